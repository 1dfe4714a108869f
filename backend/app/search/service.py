"""Full-text search over the caller's messages and conversation titles, inside the database.

PostgreSQL: GIN expression indexes on (user_id, to_tsvector('todo_search', <text with its ASCII
punctuation as spaces>)); SQLite: FTS5 tables whose rows carry their owner as a token (migration
0004 creates both). Either way the owner is part of the index lookup, so a search reads the
caller's entries, not everyone's. The query is built from the words alone (snippets.query_terms),
each one quoted, so nothing the user types is ever query syntax.

Order of the hits, best first, and the keyset of the pages:
1. the conversation's score: the sum of the ranks of its hits (its matching messages, and its
   title when that matches, ranked as a message would be), so relevance comes first: one
   message saying "kiwi" three times beats one saying it once, and more matches beat fewer.
   Only the caller's newest RANKED_MATCHES matching messages are ranked (older ones count 0):
   ranking reads each message's text, and a word found in most of a long history would
   otherwise cost a read of all of it;
2. the conversation id (the newer conversation first among equals), which keeps a
   conversation's hits together;
3. the title hit before the message hits of its conversation;
4. the message's own rank (ts_rank on PostgreSQL, snippets.rank on SQLite; higher is better);
5. the message id (newer first).

A matching title is a hit of its own: message_id and role null, the snippet is the marked title,
created_at the conversation's.
"""

import json
import sqlite3
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast

from sqlalchemy import text
from sqlmodel import Session, col, select

from backend.app.models import Conversation, Message
from backend.app.search.schemas import Hit
from backend.app.search.snippets import Term, build_snippet, query_terms, rank

# (conversation score, conversation id, 1 for the title hit else 0, rank, message id or 0)
SortKey = tuple[float, int, int, float, int]

_HIT_ORDER = "score DESC, conversation_id DESC, is_title DESC, rank DESC, message_id DESC"
_AFTER_HIT = (
    "WHERE (score, conversation_id, is_title, rank, message_id) < "
    "(CAST(:after_score AS DOUBLE PRECISION), :after_conversation, :after_is_title, "
    "CAST(:after_rank AS DOUBLE PRECISION), :after_message)"
)
_AFTER_PARAMS = (
    "after_score",
    "after_conversation",
    "after_is_title",
    "after_rank",
    "after_message",
)
# A sum of floats may differ in its last bits from one evaluation to the next (the order of the
# rows is free); rounded, a conversation's score is the same on every page, as the keyset needs.
SCORE_DIGITS = 9

# The indexed document, exactly as migration 0004 wrote it into the GIN indexes (PostgreSQL uses
# an expression index only for the very same expression): ASCII punctuation becomes spaces, so
# the parser sees `<b>`, `foo_bar.py` or `alice@example.com` as words, as SQLite's FTS5 does.
_PUNCTUATION = string.punctuation.replace("'", "''")
_SPACES = " " * len(string.punctuation)


def _document(column: str) -> str:
    return f"to_tsvector('todo_search', translate({column}, '{_PUNCTUATION}', '{_SPACES}'))"


# How many of the caller's newest matching messages are ranked by their text (see above).
RANKED_MATCHES = 1000

# One query for both databases, from the matches to the page; only how rows match and how a
# text is ranked differ (below). Matching reads the index alone; ranking reads the text, so it
# is done for the newest RANKED_MATCHES messages and the matching titles only, each scored by
# its own text, never by other users' rows.
_QUERY = """
WITH message_matches AS MATERIALIZED (
    {message_matches}
),
ranked_messages AS MATERIALIZED (
    SELECT newest.id, CAST({message_rank} AS DOUBLE PRECISION) AS rank
    FROM (
        SELECT id FROM message_matches ORDER BY id DESC LIMIT :ranked_matches
    ) AS newest
    JOIN messages AS m ON m.id = newest.id
),
scored_messages AS MATERIALIZED (
    SELECT mm.id, mm.conversation_id, coalesce(rm.rank, 0) AS rank
    FROM message_matches AS mm LEFT JOIN ranked_messages AS rm ON rm.id = mm.id
),
title_matches AS MATERIALIZED (
    {title_matches}
),
conversation_scores AS MATERIALIZED (
    SELECT conversation_id, {score} AS score
    FROM (
        SELECT conversation_id, rank FROM scored_messages
        UNION ALL
        SELECT conversation_id, rank FROM title_matches
    ) AS all_hits
    GROUP BY conversation_id
),
ranked AS MATERIALIZED (
    SELECT s.score, s.conversation_id, 1 AS is_title, CAST(0 AS DOUBLE PRECISION) AS rank,
           0 AS message_id
    FROM conversation_scores AS s JOIN title_matches USING (conversation_id)
    UNION ALL
    SELECT s.score, s.conversation_id, 0, sm.rank, sm.id
    FROM conversation_scores AS s JOIN scored_messages AS sm USING (conversation_id)
)
SELECT score, conversation_id, is_title, rank, message_id
FROM ranked
{after_hit}
ORDER BY {order}
LIMIT :limit + 1
"""

# PostgreSQL: the GIN indexes, queried with their own expressions; ts_rank recomputes the
# text's tsvector (an expression index stores none).
_POSTGRESQL_TSQUERY = "to_tsquery('todo_search', :tsquery)"
_POSTGRESQL_PARTS = {
    "message_matches": (
        "SELECT m.id, m.conversation_id FROM messages AS m WHERE m.user_id = :user_id "
        f"AND {_document('m.content')} @@ {_POSTGRESQL_TSQUERY}"
    ),
    "message_rank": f"ts_rank({_document('m.content')}, {_POSTGRESQL_TSQUERY})",
    "title_matches": (
        "SELECT c.id AS conversation_id, "
        f"CAST(ts_rank({_document('c.title')}, {_POSTGRESQL_TSQUERY}) AS DOUBLE PRECISION) "
        "AS rank FROM conversations AS c WHERE c.user_id = :user_id "
        f"AND {_document('c.title')} @@ {_POSTGRESQL_TSQUERY}"
    ),
    "score": (f"CAST(round(CAST(sum(rank) AS NUMERIC), {SCORE_DIGITS}) AS DOUBLE PRECISION)"),
}
# SQLite: the FTS5 tables, the owner's token being part of the MATCH (CROSS JOIN keeps the FTS
# table the outer loop). Not bm25(): it counts, on every query, every row of the whole table that
# holds each query word (its IDF), so a frequent word cost 35 ms over other users' messages for
# 48 hits of one user. search_rank() (snippets.rank, registered below) scores the text alone.
_SQLITE_PARTS = {
    "message_matches": (
        "SELECT m.id, m.conversation_id "
        "FROM messages_fts CROSS JOIN messages AS m ON m.id = messages_fts.rowid "
        "WHERE messages_fts MATCH :message_match AND m.user_id = :user_id"
    ),
    "message_rank": "search_rank(m.content, :terms)",
    "title_matches": (
        "SELECT c.id AS conversation_id, search_rank(c.title, :terms) AS rank "
        "FROM conversations_fts CROSS JOIN conversations AS c ON c.id = conversations_fts.rowid "
        "WHERE conversations_fts MATCH :title_match AND c.user_id = :user_id"
    ),
    "score": f"round(sum(rank), {SCORE_DIGITS})",
}


def postgresql_query(after: bool) -> str:
    """The search query for PostgreSQL, with or without a cursor's key to start after."""
    return _query(_POSTGRESQL_PARTS, after)


def sqlite_query(after: bool) -> str:
    """The search query for SQLite, with or without a cursor's key to start after."""
    return _query(_SQLITE_PARTS, after)


def _query(parts: dict[str, str], after: bool) -> str:
    return _QUERY.format(**parts, after_hit=_AFTER_HIT if after else "", order=_HIT_ORDER)


@dataclass(frozen=True)
class RankedHit:
    """A hit with its place in the order (the cursor of the page that ends with it)."""

    hit: Hit
    sort_key: SortKey


def to_tsquery_text(terms: Sequence[Term]) -> str:
    """A to_tsquery() argument that ANDs the words, each quoted (so never an operator)."""

    def lexeme(term: Term) -> str:
        quoted = "'" + term.word.replace("\\", "\\\\").replace("'", "''") + "'"
        return f"{quoted}:*" if term.prefix else quoted

    return " & ".join(lexeme(term) for term in terms)


def to_fts5_match(owner: str, column: str, terms: Sequence[Term]) -> str:
    """An FTS5 MATCH string: the owner's token AND every word, each a quoted string (so NEAR,
    OR, -, ^, : and * typed by the user are plain text), prefixes marked with `*`."""

    def phrase(term: Term) -> str:
        quoted = '"' + term.word.replace('"', '""') + '"'
        return f"{quoted}*" if term.prefix else quoted

    words_query = " AND ".join(phrase(term) for term in terms)
    return f'owner : "{owner_token(owner)}" AND {column} : ({words_query})'


def owner_token(user_id: str) -> str:
    """The user id as the FTS5 tables index it (SQLite's hex(user_id)): always one token."""
    return user_id.encode().hex().upper()


def search_page(
    session: Session, user_id: str, query: str, limit: int, after: SortKey | None
) -> list[RankedHit]:
    """Up to limit + 1 of the user's hits for `query`, best first, after the cursor's key."""
    terms = query_terms(query)
    if not terms:
        return []
    params: dict[str, Any] = {
        "user_id": user_id,
        "limit": limit,
        "ranked_matches": RANKED_MATCHES,
    }
    if after is not None:
        params.update(zip(_AFTER_PARAMS, after, strict=True))
    if session.get_bind().dialect.name == "postgresql":
        sql = postgresql_query(after is not None)
        params["tsquery"] = to_tsquery_text(terms)
    else:
        sql = sqlite_query(after is not None)
        register_search_rank(session)
        params["terms"] = json.dumps([[term.word, term.prefix] for term in terms])
        params["message_match"] = to_fts5_match(user_id, "content", terms)
        params["title_match"] = to_fts5_match(user_id, "title", terms)
    keys: list[SortKey] = [
        (float(score), int(conversation_id), int(is_title), float(rank), int(message_id))
        for score, conversation_id, is_title, rank, message_id in session.execute(text(sql), params)
    ]
    return _load_hits(session, user_id, keys, terms)


def register_search_rank(session: Session) -> None:
    """Make search_rank() available to the SQLite query on this session's connection."""
    # Registering again on the same pooled connection just replaces it.
    sqlite = session.connection().connection.driver_connection
    assert isinstance(sqlite, sqlite3.Connection)  # SQLAlchemy's default SQLite driver: pysqlite
    sqlite.create_function("search_rank", 2, _search_rank, deterministic=True)


def _search_rank(text: str, terms_json: str) -> float:
    return rank(text, _parse_terms(terms_json))


@lru_cache(maxsize=64)
def _parse_terms(terms_json: str) -> tuple[Term, ...]:
    return tuple(Term(word, prefix) for word, prefix in json.loads(terms_json))


def _load_hits(
    session: Session, user_id: str, keys: list[SortKey], terms: Sequence[Term]
) -> list[RankedHit]:
    """The hits of the ranked keys, with their snippets (two indexed lookups by id)."""
    message_ids = [key[4] for key in keys if not key[2]]
    conversation_ids = {key[1] for key in keys}
    messages = {
        message.id: message
        for message in session.exec(
            select(Message).where(col(Message.id).in_(message_ids), Message.user_id == user_id)
        )
    }
    conversations = {
        conversation.id: conversation
        for conversation in session.exec(
            select(Conversation).where(
                col(Conversation.id).in_(conversation_ids), Conversation.user_id == user_id
            )
        )
    }
    hits: list[RankedHit] = []
    for key in keys:
        conversation_id = key[1]
        conversation = conversations.get(conversation_id)
        if conversation is None:
            continue  # deleted between the two statements
        if key[2]:
            hit = Hit(
                conversation_id=conversation_id,
                conversation_title=conversation.title,
                message_id=None,
                role=None,
                snippet=build_snippet(conversation.title or "", terms),
                created_at=conversation.created_at,
            )
        else:
            message = messages.get(key[4])
            if message is None:
                continue
            hit = Hit(
                conversation_id=conversation_id,
                conversation_title=conversation.title,
                message_id=message.id,
                # The table's CHECK admits these two roles only; Hit validates it again.
                role=cast(Literal["user", "assistant"], message.role),
                snippet=build_snippet(message.content, terms),
                created_at=message.created_at,
            )
        hits.append(RankedHit(hit, key))
    return hits
