"""docs/api.md, the API reference the repository carries, stays in step with the app: every
operation of the OpenAPI schema is listed there, and every route listed there is served."""

import re
from pathlib import Path

from fastapi import FastAPI

from backend.app.main import allowed_methods

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"
README = ROOT / "README.md"

# The first cell of a route table's row: | `GET /api/{user_id}/tasks` | ...
DOCUMENTED_ROUTE = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^` ]*)` \|", re.MULTILINE)
# Stand-ins for path parameters, to ask the app whether it serves a documented path.
SAMPLE_VALUES = {"user_id": "alice"}


def documented_routes() -> set[tuple[str, str]]:
    return set(DOCUMENTED_ROUTE.findall(API_MD.read_text()))


def schema_operations(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_VALUES.get(m.group(1), "1"), path)


def serves(app: FastAPI, method: str, path: str) -> bool:
    scope = {"type": "http", "path": concrete(path), "root_path": "", "method": method}
    return method in allowed_methods(app, scope)


def test_every_operation_of_the_schema_is_in_the_reference(app: FastAPI) -> None:
    missing = schema_operations(app) - documented_routes()
    assert not missing, f"add these to docs/api.md: {sorted(missing)}"


def test_every_route_of_the_reference_is_served(app: FastAPI) -> None:
    documented = documented_routes()
    assert len(documented) > 20  # the table rows were found
    unknown = {(m, p) for m, p in documented if not serves(app, m, p)}
    assert not unknown, f"docs/api.md lists routes the app does not serve: {sorted(unknown)}"


def test_the_readme_links_only_files_the_repository_contains() -> None:
    for document in (README, API_MD):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", document.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            assert (document.parent / target).resolve().is_file(), f"{document.name}: {target}"
            assert (document.parent / target).resolve().is_relative_to(ROOT), target
