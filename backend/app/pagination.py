"""Keyset pagination: the Page shape and opaque cursors holding the last row's sort key.

A cursor is base64url(JSON of the sort key), never an offset, so a page costs one index range
scan however deep it is, and rows added while a client walks the pages never shift what it sees.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypedDict, TypeVar

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

T = TypeVar("T")
Row = TypeVar("Row")
Key = TypeVar("Key")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (1-100).")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=512, description="The `next_cursor` of the previous page."),
]


class Page(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


class PageRows(TypedDict, Generic[Row]):
    """A page of rows as a route returns it; its `response_model` Page[...] reads the rows."""

    data: list[Row]
    has_more: bool
    next_cursor: str | None


def encode_cursor(sort_key: list[Any]) -> str:
    raw = json.dumps(sort_key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: TypeAdapter[Key]) -> Key | None:
    """The sort key inside a cursor, validated against `shape`; a 422 when it is not ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return shape.validate_python(json.loads(raw), strict=False)
    except (binascii.Error, ValueError, UnicodeDecodeError, ValidationError):
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "cursor"),
                    "msg": "Invalid cursor: pass the next_cursor of a previous page unchanged.",
                    "input": cursor,
                }
            ]
        ) from None


def build_page(
    rows: Sequence[Row], limit: int, sort_key_of: Callable[[Row], list[Any]]
) -> PageRows[Row]:
    """Rows were fetched with limit + 1: the extra row only says whether another page exists."""
    has_more = len(rows) > limit
    data = list(rows[:limit])
    next_cursor = encode_cursor(sort_key_of(data[-1])) if has_more else None
    return {"data": data, "has_more": has_more, "next_cursor": next_cursor}
