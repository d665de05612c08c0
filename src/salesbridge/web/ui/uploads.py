"""The CSV upload pages (administrators): upload a CSV of people or companies, then watch its load job — lines and
rows read, rows loaded, lines refused — and, at the end, every refused line with its reason, downloadable as CSV.

The file is checked at once (a CSV file name, not empty, text, an id column); its lines are loaded by a background
job (:mod:`salesbridge.services.people_upload`). The progress page refreshes itself every
:data:`REFRESH_SECONDS` while the load waits or runs (a meta refresh: no script).
"""

from __future__ import annotations

import uuid
from typing import Final

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData, UploadFile

from salesbridge.domain.csv_rows import CsvKind
from salesbridge.domain.uploads import UPLOAD_STALLED, Upload
from salesbridge.errors import InvalidRequestError
from salesbridge.i18n import N_, translate
from salesbridge.services.accounts import Principal
from salesbridge.services.people_upload import MAX_UPLOAD_BYTES, recent_uploads, start_upload, upload_of
from salesbridge.web.context import ConsoleServices
from salesbridge.web.localized import line_problem_text
from salesbridge.web.security import AdminPrincipal, Services
from salesbridge.web.spreadsheet_csv import MEDIA_TYPE, chunks, spooled_spreadsheet_csv
from salesbridge.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE: Final = "/admin/uploads"
REFRESH_SECONDS: Final = 2
SHOWN_PROBLEMS: Final = 200
"""Refused lines listed on the page; the download has them all."""
CSV_SUFFIXES: Final = (".csv", ".txt")

NOT_CSV: Final = N_("Choose a CSV file (a name ending in .csv). Save a spreadsheet as CSV UTF-8 first.")
NO_FILE: Final = N_("Choose the CSV file to upload.")
TOO_LARGE: Final = N_(
    "The file is larger than {limit} MB. Load larger files with the salesbridge people import command."
)
KINDS: Final = {CsvKind.PEOPLE.value: N_("People"), CsvKind.COMPANIES.value: N_("Companies")}
STATES: Final = {
    "queued": N_("Waiting"),
    "running": N_("Loading"),
    "succeeded": N_("Done"),
    "failed": N_("Failed"),
}


def _form_page(
    request: Request,
    principal: Principal,
    services: ConsoleServices,
    *,
    status_code: int = 200,
    error: str | None = None,
    kind: str = CsvKind.PEOPLE.value,
) -> Response:
    uploads = recent_uploads(services.store, principal.organization_id)
    now = services.clock()
    return render(
        request,
        "admin_uploads.html",
        {
            "uploads": [(upload, "failed" if upload.stalled(now) else upload.state.value) for upload in uploads],
            "error": error,
            "kind": kind,
            "kinds": KINDS,
            "states": STATES,
            "limit_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        },
        principal=principal,
        status_code=status_code,
    )


@router.get(PAGE)
def uploads_page(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """The upload form and the organization's latest uploads."""
    return _form_page(request, principal, services)


@router.post(PAGE)
async def upload(request: Request, principal: AdminPrincipal, services: Services) -> Response:
    """Take the file (``file``) and what it holds (``kind``: people or companies), keep it and queue its load;
    303 to its progress page. 422 (the form again, saying why) for no file, a file that is not a CSV or that is
    refused as a whole; 413 for a file over :data:`MAX_UPLOAD_BYTES`."""
    form = await request.form()
    try:
        return await _take(request, form, principal, services)
    finally:
        await form.close()  # the spooled file, on disk past 1 MB


async def _take(request: Request, form: FormData, principal: Principal, services: ConsoleServices) -> Response:
    kind = str(form.get("kind") or CsvKind.PEOPLE.value)
    if kind not in KINDS:
        kind = CsvKind.PEOPLE.value
    file = form.get("file")
    locale = principal.locale
    error: str | None = None
    status_code = 422
    content = b""
    if not isinstance(file, UploadFile) or not file.filename:
        error = translate(NO_FILE, locale)
    elif not file.filename.lower().endswith(CSV_SUFFIXES):
        error = translate(NOT_CSV, locale)
    else:
        content = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(content) > MAX_UPLOAD_BYTES:
            error, status_code = translate(TOO_LARGE, locale).format(limit=MAX_UPLOAD_BYTES // (1024 * 1024)), 413
    if error is None and isinstance(file, UploadFile):
        try:
            queued = await run_in_threadpool(
                start_upload,
                services.store,
                principal.organization_id,
                kind=CsvKind(kind),
                file_name=file.filename or "",
                content=content,
                actor=principal.email,
            )
        except InvalidRequestError as refused:
            error = refused.localized(locale)
        else:
            if services.wake_importer is not None:
                services.wake_importer()
            return RedirectResponse(f"{PAGE}/{queued.id}", status_code=303)
    return await run_in_threadpool(
        _form_page, request, principal, services, status_code=status_code, error=error, kind=kind
    )


@router.get(PAGE + "/{upload_id}")
def upload_page(request: Request, upload_id: uuid.UUID, principal: AdminPrincipal, services: Services) -> Response:
    """Where the upload's load stands; its refused lines once it ended. Another organization's upload: 404."""
    found = upload_of(services.store, principal.organization_id, upload_id)
    locale = principal.locale
    stalled = found.stalled(services.clock())
    return render(
        request,
        "admin_upload.html",
        {
            "upload": found,
            "state": "failed" if stalled else found.state.value,
            "kinds": KINDS,
            "states": STATES,
            "refresh_seconds": REFRESH_SECONDS if found.state.active and not stalled else None,
            "problems": [line_problem_text(problem, locale) for problem in found.problems[:SHOWN_PROBLEMS]],
            "more_problems": max(0, len(found.problems) - SHOWN_PROBLEMS),
            "warnings": [line_problem_text(warning, locale) for warning in found.warnings],
            "error": translate(UPLOAD_STALLED, locale) if stalled else _error_text(found, locale),
        },
        principal=principal,
    )


def _error_text(found: Upload, locale: str) -> str | None:
    if found.error is None:
        return None
    return translate(found.error.message, locale).format(**found.error.fields)


@router.get(PAGE + "/{upload_id}/problems.csv")
def problems_csv(upload_id: uuid.UUID, principal: AdminPrincipal, services: Services) -> Response:
    """Every refused line of the upload as CSV for a spreadsheet (:mod:`salesbridge.web.spreadsheet_csv`: ``line``,
    ``reason`` in the reader's language; UTF-8 with a byte order mark, so spreadsheets read the accents; cells a
    spreadsheet would run as formulas neutralised)."""
    found = upload_of(services.store, principal.organization_id, upload_id)
    locale = principal.locale
    rows = ((problem.line, translate(problem.message, locale).format(**problem.fields)) for problem in found.problems)
    spool = spooled_spreadsheet_csv((N_("Line"), N_("Reason")), rows, locale=locale)

    stem = found.file_name.rsplit(".", 1)[0] or "upload"
    safe_stem = "".join(char if char.isascii() and (char.isalnum() or char in "-_") else "_" for char in stem)[:80]
    return StreamingResponse(
        chunks(spool),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{safe_stem}-problems.csv"'},
    )
