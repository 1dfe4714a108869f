"""The search route: parse, authorise, call the search service, page the hits."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field, TypeAdapter

from backend.app.auth.dependencies import CurrentUser
from backend.app.deps import SessionDep
from backend.app.ids import MAX_ID
from backend.app.openapi import COMMON_ERRORS
from backend.app.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    PageRows,
    build_page,
    decode_cursor,
)
from backend.app.search import service as search_service
from backend.app.search.schemas import Hit
from backend.app.text import NO_NUL_PATTERN, SEARCH_QUERY_MAX, DocumentedPattern, RefuseNul

router = APIRouter(prefix="/api/{user_id}/search", tags=["search"], responses=COMMON_ERRORS)

Count = Annotated[int, Field(ge=0, le=MAX_ID)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
# A conversation's score: a sum of ranks, each a few units at most, one per hit (≤ MAX_ID).
Score = Annotated[float, Field(ge=0, le=1000.0 * MAX_ID, allow_inf_nan=False)]
HIT_CURSOR = TypeAdapter(tuple[Score, Count, Literal[0, 1], FiniteFloat, Count])
SearchQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=SEARCH_QUERY_MAX,
        description=(
            f"The words to find (1-{SEARCH_QUERY_MAX} characters); punctuation and operators "
            "are ignored."
        ),
    ),
    RefuseNul,  # after the length check, so that its sentence is about characters
    DocumentedPattern(NO_NUL_PATTERN),
]

DESCRIPTION = """Word-based full-text search over your own messages and conversation titles
(archived conversations included).

- **Words**: runs of letters and digits. Every word must match (AND), as a whole word, except
  the last one: from three characters on it also matches longer words that start with it, so
  a search box can search while one types (`call plumb` finds *call the plumber*; `plumb call`
  does not). Case and accents are ignored (`cafe` finds *café*). Quotes, `*`, `-`, `:`, `OR`,
  `NEAR`, `%`, `\\` and the like are never operators: they separate words, or are words. A query
  with no words gives an empty page.
- **CJK**: a run of Chinese, Japanese or Korean characters without spaces is one word, found by
  its beginning, wherever the query word stands and however short (`東京` finds *東京タワー*,
  `タワー` does not).
- **Order**, best first: relevance first, then recency. A conversation's score is the sum of
  its hits' relevance (PostgreSQL's ts_rank; on SQLite a BM25-style score of the text alone; a
  matching title scores as a message would), so a message saying the word three times beats
  one saying it once, and more matching messages beat fewer; equal scores put the newer
  conversation first. A conversation's hits stay together: the title hit first, then the
  messages by relevance, then newest first. Only your newest 1,000 matching messages are
  ranked; older matches rank 0 and follow by recency.
- **Title hits**: a conversation whose title matches gives one hit of its own, with
  `message_id` and `role` null, `snippet` the marked title and `created_at` the conversation's.
- **Snippets**: about 30 words around the first match, HTML-escaped, matched words in
  `<mark>...</mark>`.
- **Pages**: keyset pages over that order (`next_cursor`). A message's rank depends on that
  message alone, but a conversation's place on all of its hits: a matching message added
  while you walk the pages can move its conversation up, past the page you are on.
"""


@router.get(
    "",
    summary="Search your messages and conversation titles",
    description=DESCRIPTION,
    responses={422: {"description": "Invalid q, limit or cursor (FastAPI's detail list)"}},
    response_model=Page[Hit],
)
def search(
    session: SessionDep,
    user: CurrentUser,
    q: SearchQuery,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> PageRows[Hit]:
    after = decode_cursor(cursor, HIT_CURSOR)
    rows = search_service.search_page(session, user.id, q, limit, after)
    page = build_page(rows, limit, lambda row: list(row.sort_key))
    return {**page, "data": [row.hit for row in page["data"]]}
