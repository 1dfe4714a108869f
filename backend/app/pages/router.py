"""The built-in chat page: `GET /` serves `static/index.html`, `/static/...` its CSS and JS.

The page is plain HTML, CSS and JavaScript with no build step; it calls the same public API as any
other client. Static files go through Starlette's StaticFiles, which resolves each path and
refuses anything outside the folder (`/static/../config.py` and its encoded forms are 404).
"""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
INDEX_HTML = STATIC_DIR / "index.html"

# Defence in depth for a page that shows text from users and a model: only this origin's own
# scripts, styles and API (no inline script, no third-party host), and no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every time, so a new version of the page is picked up at once.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def chat_page() -> FileResponse:
    return FileResponse(INDEX_HTML, media_type="text/html", headers=PAGE_HEADERS)


def include_pages(app: FastAPI) -> None:
    """Serve the chat page at `/` and its assets under `/static`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
