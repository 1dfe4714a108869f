"""Full-text search over the caller's messages and conversation titles, inside the database.

PostgreSQL: GIN expression indexes on (user_id, to_tsvector('todo_search', <text with its ASCII
punctuation as spaces>)); SQLite: FTS5 tables whose rows carry their owner as a token (migration
0004 creates both). Either way the owner is part of the index lookup, so a search reads the
caller's entries, not everyone's. The query is built from the words alone (snippets.query_words),
each one quoted, so nothing the user types is ever query syntax.

Order of the hits, best first, and the keyset of the pages:
1. the number of hits in the conversation (matching messages, plus one for a matching title):
   a conversation with more matches comes first;
2. the conversation id (the newer conversation first among equals), which keeps a
   conversation's hits together;
3. the title hit before the message hits of its conversation;
4. the message's own rank (ts_rank on PostgreSQL, bm25 on SQLite; higher is better);
5. the message id (newer first).

A matching title is a hit of its own: message_id and role null, the snippet is the marked title,
created_at the conversation's.
"""

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, select

from backend.app.models import Conversation, Message
from backend.app.search.schemas import Hit
from backend.app.search.snippets import build_snippet, is_prefix_word, query_words

# (hits in the conversation, conversation id, 1 for the title hit else 0, rank, message id or 0)
SortKey = tuple[int, int, int, float, int]

_HIT_ORDER = "hits DESC, conversation_id DESC, is_title DESC, rank DESC, message_id DESC"
_AFTER_HIT = (
    "WHERE (hits, conversation_id, is_title, rank, message_id) < "
    "(:after_hits, :after_conversation, :after_is_title, "
    "CAST(:after_rank AS DOUBLE PRECISION), :after_message)"
)
_AFTER_PARAMS = (
    "after_hits",
    "after_conversation",
    "after_is_title",
    "after_rank",
    "after_message",
)
_AFTER_CONVERSATION = "WHERE (hits, conversation_id) <= (:after_hits, :after_conversation)"
_COUNTED_AFTER = "CASE WHEN conversation_id = :after_conversation THEN 0 ELSE hits END"

# The indexed document, exactly as migration 0004 wrote it into the GIN indexes (PostgreSQL uses
# an expression index only for the very same expression): ASCII punctuation becomes spaces, so
# the parser sees `<b>`, `foo_bar.py` or `alice@example.com` as words, as SQLite's FTS5 does.
_PUNCTUATION = string.punctuation.replace("'", "''")
_SPACES = " " * len(string.punctuation)


def _document(column: str) -> str:
    return f"to_tsvector('todo_search', translate({column}, '{_PUNCTUATION}', '{_SPACES}'))"


# Ranking every match would recompute to_tsvector for each of them (an expression index has no
# stored vector), so only the conversations this page can reach are ranked: the cursor's own
# (some of its hits may be left), then the following ones until they hold `limit + 1` hits.
_POSTGRESQL = """
WITH message_matches AS MATERIALIZED (
    SELECT m.id, m.conversation_id
    FROM messages AS m
    WHERE m.user_id = :user_id AND {message_document} @@ to_tsquery('todo_search', :tsquery)
),
title_matches AS MATERIALIZED (
    SELECT c.id AS conversation_id
    FROM conversations AS c
    WHERE c.user_id = :user_id AND {title_document} @@ to_tsquery('todo_search', :tsquery)
),
conversation_hits AS (
    SELECT conversation_id, count(*) AS hits
    FROM (
        SELECT conversation_id FROM message_matches
        UNION ALL
        SELECT conversation_id FROM title_matches
    ) AS all_hits
    GROUP BY conversation_id
),
reachable AS (
    SELECT conversation_id, hits
    FROM (
        SELECT conversation_id, hits,
               sum(counted) OVER (ORDER BY hits DESC, conversation_id DESC) - counted
                   AS hits_before
        FROM (
            SELECT conversation_id, hits, {counted} AS counted
            FROM conversation_hits
            {after_conversation}
        ) AS after_cursor
    ) AS ordered
    WHERE hits_before <= :limit
),
ranked AS (
    SELECT r.hits, r.conversation_id, 1 AS is_title, CAST(0 AS DOUBLE PRECISION) AS rank,
           0 AS message_id
    FROM reachable AS r JOIN title_matches USING (conversation_id)
    UNION ALL
    SELECT r.hits, r.conversation_id, 0,
           CAST(
               ts_rank({message_document}, to_tsquery('todo_search', :tsquery))
               AS DOUBLE PRECISION
           ),
           m.id
    FROM reachable AS r
    JOIN message_matches AS mm USING (conversation_id)
    JOIN messages AS m ON m.id = mm.id
)
SELECT hits, conversation_id, is_title, rank, message_id
FROM ranked
{after_hit}
ORDER BY {order}
LIMIT :limit + 1
"""

# bm25 comes out of the FTS5 scan itself, so SQLite ranks every match in one pass. CROSS JOIN
# keeps the FTS table as the outer loop; the owner token is already part of the MATCH.
_SQLITE = """
WITH message_matches AS MATERIALIZED (
    SELECT m.id, m.conversation_id, -bm25(messages_fts, 0.0, 1.0) AS score
    FROM messages_fts CROSS JOIN messages AS m ON m.id = messages_fts.rowid
    WHERE messages_fts MATCH :message_match AND m.user_id = :user_id
),
title_matches AS MATERIALIZED (
    SELECT c.id AS conversation_id
    FROM conversations_fts CROSS JOIN conversations AS c ON c.id = conversations_fts.rowid
    WHERE conversations_fts MATCH :title_match AND c.user_id = :user_id
),
conversation_hits AS MATERIALIZED (
    SELECT conversation_id, count(*) AS hits
    FROM (
        SELECT conversation_id FROM message_matches
        UNION ALL
        SELECT conversation_id FROM title_matches
    ) AS all_hits
    GROUP BY conversation_id
),
ranked AS (
    SELECT h.hits, h.conversation_id, 1 AS is_title, 0.0 AS rank, 0 AS message_id
    FROM conversation_hits AS h JOIN title_matches USING (conversation_id)
    UNION ALL
    SELECT h.hits, h.conversation_id, 0, mm.score, mm.id
    FROM conversation_hits AS h JOIN message_matches AS mm USING (conversation_id)
)
SELECT hits, conversation_id, is_title, rank, message_id
FROM ranked
{after_hit}
ORDER BY {order}
LIMIT :limit + 1
"""


def postgresql_query(after: bool) -> str:
    """The ranking query for PostgreSQL, with or without a cursor's key to start after."""
    return _POSTGRESQL.format(
        after_conversation=_AFTER_CONVERSATION if after else "",
        after_hit=_AFTER_HIT if after else "",
        order=_HIT_ORDER,
        counted=_COUNTED_AFTER if after else "hits",
        message_document=_document("m.content"),
        title_document=_document("c.title"),
    )


def sqlite_query(after: bool) -> str:
    """The ranking query for SQLite, with or without a cursor's key to start after."""
    return _SQLITE.format(after_hit=_AFTER_HIT if after else "", order=_HIT_ORDER)


@dataclass(frozen=True)
class RankedHit:
    """A hit with its place in the order (the cursor of the page that ends with it)."""

    hit: Hit
    sort_key: SortKey


def to_tsquery_text(words: Sequence[str]) -> str:
    """A to_tsquery() argument that ANDs the words, each quoted (so never an operator)."""

    def term(word: str) -> str:
        quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
        return f"{quoted}:*" if is_prefix_word(word) else quoted

    return " & ".join(term(word) for word in words)


def to_fts5_match(owner: str, column: str, words: Sequence[str]) -> str:
    """An FTS5 MATCH string: the owner's token AND every word, each a quoted string (so NEAR,
    OR, -, ^, : and * typed by the user are plain text), prefix-matched with `*`."""

    def term(word: str) -> str:
        quoted = '"' + word.replace('"', '""') + '"'
        return f"{quoted}*" if is_prefix_word(word) else quoted

    words_query = " AND ".join(term(word) for word in words)
    return f'owner : "{owner_token(owner)}" AND {column} : ({words_query})'


def owner_token(user_id: str) -> str:
    """The user id as the FTS5 tables index it (SQLite's hex(user_id)): always one token."""
    return user_id.encode().hex().upper()


def search_page(
    session: Session, user_id: str, query: str, limit: int, after: SortKey | None
) -> list[RankedHit]:
    """Up to limit + 1 of the user's hits for `query`, best first, after the cursor's key."""
    words = query_words(query)
    if not words:
        return []
    params: dict[str, Any] = {"user_id": user_id, "limit": limit}
    if after is not None:
        params.update(zip(_AFTER_PARAMS, after, strict=True))
    if session.get_bind().dialect.name == "postgresql":
        sql = postgresql_query(after is not None)
        params["tsquery"] = to_tsquery_text(words)
    else:
        sql = sqlite_query(after is not None)
        params["message_match"] = to_fts5_match(user_id, "content", words)
        params["title_match"] = to_fts5_match(user_id, "title", words)
    keys: list[SortKey] = [
        (int(hits), int(conversation_id), int(is_title), float(rank), int(message_id))
        for hits, conversation_id, is_title, rank, message_id in session.execute(text(sql), params)
    ]
    return _load_hits(session, user_id, keys, words)


def _load_hits(
    session: Session, user_id: str, keys: list[SortKey], words: Sequence[str]
) -> list[RankedHit]:
    """The hits of the ranked keys, with their snippets (two indexed lookups by id)."""
    message_ids = [key[4] for key in keys if not key[2]]
    conversation_ids = {key[1] for key in keys}
    messages = {
        message.id: message
        for message in session.exec(
            select(Message).where(Message.id.in_(message_ids), Message.user_id == user_id)
        )
    }
    conversations = {
        conversation.id: conversation
        for conversation in session.exec(
            select(Conversation).where(
                Conversation.id.in_(conversation_ids), Conversation.user_id == user_id
            )
        )
    }
    hits: list[RankedHit] = []
    for key in keys:
        conversation = conversations.get(key[1])
        if conversation is None:
            continue  # deleted between the two statements
        if key[2]:
            hit = Hit(
                conversation_id=conversation.id,
                conversation_title=conversation.title,
                message_id=None,
                role=None,
                snippet=build_snippet(conversation.title or "", words),
                created_at=conversation.created_at,
            )
        else:
            message = messages.get(key[4])
            if message is None:
                continue
            hit = Hit(
                conversation_id=conversation.id,
                conversation_title=conversation.title,
                message_id=message.id,
                role=message.role,
                snippet=build_snippet(message.content, words),
                created_at=message.created_at,
            )
        hits.append(RankedHit(hit, key))
    return hits
