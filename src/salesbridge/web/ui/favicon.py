"""``/favicon.ico``: the console's icon (drawn for this project, see ``static/favicon.svg``), so browsers asking for
it on every page get it instead of a 404."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.responses import FileResponse

from salesbridge.web.security import PublicPrincipal

router = APIRouter(include_in_schema=False)

_ICON: Final = Path(__file__).parents[1] / "static" / "favicon.ico"


@router.get("/favicon.ico")
def favicon(_principal: PublicPrincipal) -> FileResponse:
    """The icon (16 and 32 px), cacheable for a day."""
    return FileResponse(_ICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})
