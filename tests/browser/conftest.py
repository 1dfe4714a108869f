"""Browser tests: Debian's headless Chromium, driven by Playwright, against a real uvicorn server.

Never a browser download: the browser is the system's `/usr/bin/chromium` (`apt-get install
chromium`) and Playwright is only the pip package. Where either is missing the tests are skipped
with that reason, unless REQUIRE_SERVICES=1 (as in CI), where a missing browser is a failure.
"""

import importlib.util
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from testkit.processes import running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000  # for each wait in a test; the whole module takes a few seconds


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module.

    Not per session: while Playwright's sync API runs, the main thread counts as running an
    event loop, and tests that come later and call `asyncio.run` (MCP clients) would fail.
    """
    reason = missing_browser()
    if reason is not None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"browser tests cannot run: {reason} (REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def server_env(database_url: str, **settings: object) -> dict[str, str]:
    """The environment of a development server with the rules agent, plus `settings`."""
    env = {
        "DATABASE_URL": database_url,
        "APP_ENV": "development",
        "AGENT": "rules",
        "CHAT_RATE_LIMIT": "0",
    }
    env.update({name.upper(): str(value) for name, value in settings.items()})
    return env


@pytest.fixture(scope="module")
def dev_server(browser: Any, database_url: str, migrated_engine: Engine) -> Iterator[str]:
    """One development server (rules agent) for the module: starting one takes seconds.

    It needs `browser` so that a skipped browser test never pays for a server start.
    """
    with running_server(server_env(database_url)) as base_url:
        yield base_url


@pytest.fixture
def base_url(dev_server: str, engine: Engine) -> str:
    """The development server, on a test database whose tables were just emptied."""
    return dev_server


@pytest.fixture
def serve(browser: Any, database_url: str, engine: Engine) -> Iterator[Callable[..., str]]:
    """`serve(**settings)` starts a server of its own for this test, on the (emptied) test
    database, and returns its base URL: `serve(chat_rate_limit="1/minute")`."""
    with ExitStack() as stack:

        def start(**settings: object) -> str:
            return stack.enter_context(running_server(server_env(database_url, **settings)))

        yield start


@dataclass
class PageWatch:
    """What a page did that a test should not have to look for: dialogs, script errors and the
    console's errors (a failed request is one: "Failed to load resource ... 422").

    Dialogs are dismissed, or accepted once a test sets `accept_dialogs`.
    """

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    accept_dialogs: bool = False


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def open_page(browser: Any, watch: PageWatch) -> Iterator[Callable[..., Any]]:
    """`open_page(viewport=DESKTOP, color_scheme="light", **context_options)`: a fresh page
    (its own cookies and sessionStorage) watched by `watch`; an uncaught script error fails the
    test."""
    contexts: list[Any] = []

    def open_one(
        viewport: dict[str, int] = DESKTOP, color_scheme: str = "light", **options: Any
    ) -> Any:
        context = browser.new_context(viewport=viewport, color_scheme=color_scheme, **options)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        new_page = context.new_page()

        def on_dialog(dialog: Any) -> None:
            watch.dialogs.append(f"{dialog.type}: {dialog.message}")
            if watch.accept_dialogs:
                dialog.accept()
            else:
                dialog.dismiss()

        def on_console(message: Any) -> None:
            if message.type == "error":
                watch.console_errors.append(message.text)

        new_page.on("dialog", on_dialog)
        new_page.on("console", on_console)
        new_page.on("pageerror", lambda error: watch.errors.append(str(error)))
        return new_page

    yield open_one
    for context in contexts:
        context.close()
    assert watch.errors == [], f"uncaught errors in the page: {watch.errors}"


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    """A fresh page at desktop size (see open_page)."""
    return open_page()
