"""The API's shared shapes: the base of its response models, the error bodies, and the ``responses=`` that
document which errors a route can give (OpenAPI shows a schema for every response).

Response models describe the JSON the routes have always returned; they add nothing and rename nothing. They
forbid unknown fields, so a route whose JSON grows a field its model does not describe fails (500) instead of
silently dropping it: FastAPI validates what a route returns against its model. Times the services give as
ISO-8601 text stay text (:data:`IsoTime`), so a ``+00:00`` offset is not rewritten as ``Z``.

Errors are JSON objects with a ``detail`` sentence (in the caller's language where the refusal has one), written
by the exception handlers of :mod:`salesbridge.web.app`; some add fields (:class:`SeatLimitErrorOut`,
:class:`CrmErrorOut`). A request the API cannot read (wrong type, missing field) gets FastAPI's list of problems
as ``detail`` instead (:class:`UnprocessableOut`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from salesbridge.domain.text_rules import has_lone_surrogate

IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""A time as the services write it: ISO-8601 with its UTC offset (``2026-03-02T09:00:00+00:00``)."""


class ApiModel(BaseModel):
    """Base of the response models: no field beyond those described."""

    model_config = ConfigDict(extra="forbid")


class ApiInput(BaseModel):
    """Base of the request bodies: a field the body's model does not describe is refused with 422 by name (a
    misspelt field would otherwise be dropped without a word and the request half-done), and text anywhere in the
    body holding a lone surrogate (JSON allows ``"\\ud800"``, but no encoding can store what it decodes to) is
    refused with 422 before any route sees it."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        if _holds_lone_surrogate(data):
            raise ValueError("The text holds a lone surrogate (\\ud800 to \\udfff), which cannot be stored.")
        return data


def _holds_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return has_lone_surrogate(value)
    if isinstance(value, dict):
        return any(_holds_lone_surrogate(key) or _holds_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_lone_surrogate(item) for item in value)
    return False


class ErrorOut(ApiModel):
    """A refused request."""

    detail: str = Field(description="What went wrong, in the caller's language where the refusal has one.")


class SeatLimitErrorOut(ErrorOut):
    """More seats asked for than the contract has left."""

    seats_left: int = Field(description="Seats that can still be assigned.")
    requested: int = Field(description="Seats asked for.")


class CrmErrorOut(ErrorOut):
    """Dynamics 365 refused or failed the request; ``detail`` is its own message (never a token or secret)."""

    crm_status: int | None = Field(description="The CRM's HTTP status, when it answered.")
    crm_code: str | None = Field(description="The Dataverse error code, when it gave one.")


class ValidationIssueOut(ApiModel):
    """One problem with the request as FastAPI reports it."""

    type: str
    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then the field.")
    msg: str
    input: Any = Field(description="The value refused.")
    ctx: dict[str, Any] | None = Field(default=None, description="The rule's parameters, for some problems.")


class UnprocessableOut(ApiModel):
    """A value breaks a rule (``detail``: a sentence in the caller's language), or the request could not be read
    (``detail``: FastAPI's list of problems)."""

    detail: str | list[ValidationIssueOut]


ErrorResponses = dict[int | str, dict[str, Any]]

_ERRORS: Final[dict[int, dict[str, Any]]] = {
    401: {"model": ErrorOut, "description": "No valid session or API token (`WWW-Authenticate: Bearer`)."},
    403: {
        "model": ErrorOut,
        "description": "The caller lacks the route's permission, or a session's request lacks its CSRF token.",
    },
    404: {"model": ErrorOut, "description": "No such resource for the caller (other organizations included)."},
    409: {"model": ErrorOut, "description": "The request conflicts with the workspace's state."},
    413: {"model": ErrorOut, "description": "The request body is larger than the route accepts."},
    422: {"model": UnprocessableOut, "description": "A value breaks a rule, or the request could not be read."},
    502: {"model": CrmErrorOut, "description": "Dynamics 365 refused the request or could not be reached."},
}


def errors(*codes: int) -> ErrorResponses:
    """The ``responses=`` of a route or router that can answer ``codes`` (among 401, 403, 404, 409, 413, 422
    and 502), with the shared error bodies. A route adds or replaces one with ``{**errors(...), 409: {...}}``."""
    return {code: _ERRORS[code] for code in codes}


ORGANIZATION_ERRORS: Final = errors(401, 403, 404, 422)
"""What every route under ``/orgs/{org}`` can answer: nobody signed in (401), not an administrator or no CSRF
token (403), an organization that is not the caller's (404), a path or value the API refuses (422)."""
