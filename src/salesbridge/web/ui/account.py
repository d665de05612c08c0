"""Pages of signing in and out, the home page, the account page (language, API tokens) and invitations."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from salesbridge.domain.alerts import AlertKind
from salesbridge.errors import (
    InvalidInputError,
    InvitationInvalidError,
    PasswordHashingBusyError,
    SignInFailedError,
    SignInThrottledError,
    TryAgainLaterError,
)
from salesbridge.i18n import N_, SUPPORTED_LOCALES
from salesbridge.services.accounts import API_TOKEN_LIFETIME_CHOICES_DAYS, API_TOKEN_LIFETIME_DAYS, Principal, SignedIn
from salesbridge.services.notifications import alert_preferences, set_alert_preferences
from salesbridge.web.admission import PasswordCheckAdmission
from salesbridge.web.context import ConsoleServices, console_config
from salesbridge.web.security import AdminPrincipal, PublicPrincipal, Services, SignedInPrincipal, session_cookie_name
from salesbridge.web.templating import message, page_locale, render
from salesbridge.web.ui.home import home_page

router = APIRouter(include_in_schema=False)

SIGN_IN_PATH: Final = "/sign-in"
_PASSWORDS_DIFFER = N_("The two passwords don't match.")

FormText = Annotated[str, Form()]


def sign_in_url(next_path: str = "/") -> str:
    """The sign-in page, coming back to ``next_path`` afterwards."""
    return SIGN_IN_PATH if next_path == "/" else f"{SIGN_IN_PATH}?next={quote(next_path, safe='')}"


def safe_next(value: str | None) -> str:
    """``value`` when it is a path of this site, else ``/`` (no open redirect to another host)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return "/"
    return value


def try_again_later_status(exc: TryAgainLaterError) -> int:
    """429 for a caller who tried too often (throttled), 503 when the server is too busy for anyone."""
    return 429 if isinstance(exc, SignInThrottledError) else 503


def retry_after_header(exc: TryAgainLaterError) -> dict[str, str]:
    """The ``Retry-After`` header of ``exc``, in whole seconds."""
    return {"Retry-After": str(math.ceil(exc.retry_after_s))}


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _start_session(request: Request, response: Response, signed_in: SignedIn, now: datetime) -> None:
    secure = console_config(request).secure_cookies
    response.set_cookie(
        session_cookie_name(secure),
        signed_in.session_token.get_secret_value(),
        max_age=max(int((signed_in.expires_at - now).total_seconds()), 0),
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )


# ------------------------------------------------------------------------------------------------- sign-in


@router.get("/sign-in")
def sign_in_page(request: Request, principal: PublicPrincipal, next: str = "/") -> Response:
    """The sign-in form; a signed-in visitor goes straight on to ``next``."""
    if principal is not None:
        return _redirect(safe_next(next))
    return render(request, "sign_in.html", {"next": safe_next(next), "values": {}}, principal=None)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    _principal: PublicPrincipal,
    services: Services,
    workspace: FormText = "",
    email: FormText = "",
    password: FormText = "",
    next: FormText = "/",
    lang: FormText = "",
) -> Response:
    """Check the credentials; on success set the session cookie and go to ``next``.

    The check waits its turn for a password-checking thread on the event loop (:mod:`salesbridge.web.admission`),
    so many people signing in at once queue instead of being refused. Refused attempts show the form again: 400
    for wrong credentials, 429 when throttled and 503 when the queue of password checks is too long (both with
    ``Retry-After`` and a message saying when to try again).
    """
    attempt = _SignInAttempt(workspace=workspace, email=email, password=password, next=next, lang=lang)
    try:
        return await _password_checks(request).run(lambda: _sign_in(request, services, attempt))
    except PasswordHashingBusyError as exc:
        return await run_in_threadpool(_refused_sign_in, request, attempt, exc)


@dataclass(frozen=True)
class _SignInAttempt:
    workspace: str
    email: str
    password: str = field(repr=False)
    next: str
    lang: str


def _password_checks(request: Request) -> PasswordCheckAdmission:
    admission = request.app.state.password_checks
    assert isinstance(admission, PasswordCheckAdmission), "create_app() sets the app's password-check admission"
    return admission


def _sign_in(request: Request, services: ConsoleServices, attempt: _SignInAttempt) -> Response:
    address = request.client.host if request.client is not None else None
    try:
        signed_in = services.accounts.sign_in(
            attempt.workspace, attempt.email, SecretStr(attempt.password), address=address
        )
    except (SignInFailedError, TryAgainLaterError) as exc:
        return _refused_sign_in(request, attempt, exc)
    response = _redirect(safe_next(attempt.next))
    _start_session(request, response, signed_in, services.clock())
    return response


def _refused_sign_in(
    request: Request, attempt: _SignInAttempt, exc: SignInFailedError | TryAgainLaterError
) -> Response:
    locale = attempt.lang if attempt.lang in SUPPORTED_LOCALES else page_locale(request, None)
    values = {"workspace": attempt.workspace, "email": attempt.email}
    refused = render(
        request,
        "sign_in.html",
        {"next": safe_next(attempt.next), "values": values, "error": exc.localized(locale)},
        principal=None,
        status_code=try_again_later_status(exc) if isinstance(exc, TryAgainLaterError) else 400,
        locale=locale,
    )
    if isinstance(exc, TryAgainLaterError):
        refused.headers.update(retry_after_header(exc))
    return refused


@router.post("/sign-out")
def sign_out(request: Request, principal: SignedInPrincipal, services: Services) -> Response:
    """End the session and go back to the sign-in page, in the user's language."""
    secure = console_config(request).secure_cookies
    services.accounts.sign_out(request.cookies.get(session_cookie_name(secure), ""))
    response = _redirect(f"{SIGN_IN_PATH}?lang={principal.locale}")
    response.delete_cookie(session_cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax")
    return response


# ---------------------------------------------------------------------------------------------- home, account


@router.get("/")
def home(request: Request, principal: SignedInPrincipal, services: Services) -> Response:
    """The home page (:func:`salesbridge.web.ui.home.home_page`)."""
    return home_page(request, principal, services)


def _account_page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    *,
    new_token: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "tokens": services.accounts.list_api_tokens(principal),
        "new_token": new_token,
        "error": error,
        "lifetime_choices": API_TOKEN_LIFETIME_CHOICES_DAYS,
        "default_lifetime": API_TOKEN_LIFETIME_DAYS,
        "alerts": _alert_choices(services, principal),
        "alerts_saved": request.query_params.get("alerts") == "saved",
    }
    return render(request, "account.html", context, principal=principal, status_code=status_code)


ALERT_CHOICES: Final = {
    AlertKind.SYNC_FAILING: (
        N_("CRM sync failing for more than an hour"),
        N_("Imports from the CRM have failed, without a success, for more than an hour."),
    ),
    AlertKind.WRITEBACK_FAILING: (
        N_("Writeback failures piling up"),
        N_("10 or more activities are failing or parked instead of reaching the CRM (it ends below 5)."),
    ),
    AlertKind.CRM_APP_MISSING: (
        N_("CRM-side app missing"),
        N_("Writeback is on, but the app is not installed in Dynamics 365 or parts of it were removed."),
    ),
}
"""Each alert an administrator may choose: its name and what sets it off (English message ids)."""


def _alert_choices(services: ConsoleServices, principal: Principal) -> list[tuple[str, str, str, bool]]:
    """The administrator's alert choices as (kind, name, description, chosen); none for other users."""
    if not principal.is_admin:
        return []
    chosen = alert_preferences(services.store, principal)
    return [(kind.value, name, description, chosen[kind]) for kind, (name, description) in ALERT_CHOICES.items()]


@router.get("/account")
def account(request: Request, principal: SignedInPrincipal, services: Services) -> Response:
    """The account page: language and API tokens."""
    return _account_page(request, principal, services)


@router.post("/account/locale")
def set_locale(request: Request, principal: SignedInPrincipal, services: Services, locale: FormText = "") -> Response:
    """Change the console language, then show the account page in it."""
    if locale not in SUPPORTED_LOCALES:
        error = InvalidInputError(N_("Choose English (en) or Spanish (es)."), field="locale")
        return _account_page(request, principal, services, error=error.localized(principal.locale), status_code=400)
    services.accounts.set_locale(principal, locale)
    return _redirect("/account")


@router.post("/account/alerts")
def save_alerts(
    principal: AdminPrincipal, services: Services, alert: Annotated[list[str] | None, Form()] = None
) -> Response:
    """Email the administrator the alerts ticked (``alert`` fields, one per kind; unknown ones ignored) and no
    other; 403 for a user who is not an administrator."""
    known = {kind.value for kind in AlertKind}
    set_alert_preferences(services.store, principal, [AlertKind(value) for value in alert or [] if value in known])
    return _redirect("/account?alerts=saved")


@router.post("/account/tokens")
def create_token(
    request: Request,
    principal: SignedInPrincipal,
    services: Services,
    name: FormText = "",
    expires_in_days: FormText = str(API_TOKEN_LIFETIME_DAYS),
) -> Response:
    """Create an API token expiring in ``expires_in_days`` and show it, this once (the page is never cached)."""
    try:
        days = int(expires_in_days) if expires_in_days.strip().isdigit() else 0
        _view, secret = services.accounts.create_api_token(principal, name, expires_in_days=days)
    except InvalidInputError as exc:
        return _account_page(request, principal, services, error=exc.localized(principal.locale), status_code=400)
    return _account_page(request, principal, services, new_token=secret.get_secret_value())


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: uuid.UUID, principal: SignedInPrincipal, services: Services) -> Response:
    """Revoke one of the user's API tokens. Idempotent; another user's token is a 404."""
    services.accounts.revoke_api_token(principal, token_id)
    return _redirect("/account")


# ------------------------------------------------------------------------------------------------ invitations


@router.get("/invitations/{token}")
def invitation_page(request: Request, token: str, principal: PublicPrincipal, services: Services) -> Response:
    """The form accepting an invitation: choose a name and a password."""
    invitation = services.accounts.describe_invitation(token)
    if invitation is None:
        text = InvitationInvalidError().localized(_locale(request, principal))
        return render(request, "invitation.html", {"invalid": text}, principal=principal, status_code=404)
    return render(request, "invitation.html", {"invitation": invitation, "values": {}}, principal=principal)


@router.post("/invitations/{token}")
def accept_invitation(
    request: Request,
    token: str,
    principal: PublicPrincipal,
    services: Services,
    display_name: FormText = "",
    password: FormText = "",
    password_confirmation: FormText = "",
) -> Response:
    """Accept the invitation, sign in and go to the home page."""
    locale = _locale(request, principal)
    invitation = services.accounts.describe_invitation(token)
    if invitation is None:
        text = InvitationInvalidError().localized(locale)
        return render(request, "invitation.html", {"invalid": text}, principal=principal, status_code=404)
    if password != password_confirmation:
        error = message(_PASSWORDS_DIFFER, locale)
    else:
        try:
            signed_in = services.accounts.accept_invitation(token, SecretStr(password), display_name)
        except InvitationInvalidError as exc:
            invalid = {"invalid": exc.localized(locale)}
            return render(request, "invitation.html", invalid, principal=principal, status_code=404)
        except TryAgainLaterError as exc:
            context = {
                "invitation": invitation,
                "values": {"display_name": display_name},
                "error": exc.localized(locale),
            }
            busy = render(request, "invitation.html", context, principal=principal, status_code=503)
            busy.headers.update(retry_after_header(exc))
            return busy
        except InvalidInputError as exc:
            error = exc.localized(locale)
        else:
            response = _redirect("/")
            _start_session(request, response, signed_in, services.clock())
            return response
    context = {"invitation": invitation, "values": {"display_name": display_name}, "error": error}
    return render(request, "invitation.html", context, principal=principal, status_code=400)


def _locale(request: Request, principal: Principal | None) -> str:
    return page_locale(request, principal)
