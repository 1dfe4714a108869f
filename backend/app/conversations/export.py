"""A conversation with all its messages as one JSON or Markdown document, streamed.

The body is produced batch by batch: messages are read by keyset on their id, `BATCH_SIZE` at a
time, each batch in a short session of its own (a slow client pins no connection between
batches), so exporting 100,000 messages takes the memory of one batch. A message committed while
the export runs is included if its id comes after the batch being read; none appears twice.
"""

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from backend.app.batches import keyset_batches
from backend.app.conversations.schemas import ConversationPublic, ExportFormat, MessagePublic
from backend.app.models import Conversation, Message
from backend.app.tool_calls import ToolCall

MEDIA_TYPES = {
    ExportFormat.json: "application/json",
    ExportFormat.markdown: "text/markdown; charset=utf-8",
}
EXTENSIONS = {ExportFormat.json: "json", ExportFormat.markdown: "md"}
ROLE_HEADINGS = {"user": "You", "assistant": "Assistant"}
# Tool arguments and results are summarised, not dumped: a list item stays one readable line.
VALUE_MAX_CHARS = 80

# Markdown passes raw HTML through, so `<` never reaches it unescaped; `>` goes with it. `&` is
# escaped only where it would start a character reference (`&lt;` typed by the user must stay
# four characters), so "Tom & Jerry" stays readable. `[` and `]` are backslash-escaped so that no
# text becomes a link or an image (`[x](javascript:...)`), and so is `\\`, or `\\[` would undo
# that. Inside code spans the escapes show as written: the price of never emitting HTML.
CHARACTER_REFERENCE = re.compile(r"&(?=#?\w+;)")
BACKSLASH_ESCAPED = re.compile(r"([\\\[\]])")
WHITESPACE = re.compile(r"\s+")


def filename(conversation: Conversation, export_format: ExportFormat) -> str:
    """The download's file name: conversation-<id>.json or .md."""
    return f"conversation-{conversation.id}.{EXTENSIONS[export_format]}"


def stream_export(
    engine: Engine, conversation: Conversation, export_format: ExportFormat
) -> Iterator[bytes]:
    """The export document in chunks (one per batch of messages)."""
    public = ConversationPublic.model_validate(conversation)
    batches = message_batches(engine, public.user_id, public.id)
    if export_format is ExportFormat.markdown:
        return _markdown(public, batches)
    return _json(public, batches)


def message_batches(
    engine: Engine, user_id: str, conversation_id: int
) -> Iterator[list[MessagePublic]]:
    """The conversation's messages oldest first, BATCH_SIZE at a time, by keyset on the id."""
    return keyset_batches(
        engine,
        lambda after_id: (
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.user_id == user_id,
                col(Message.id) > after_id,
            )
            .order_by(col(Message.id))
        ),
        MessagePublic,
        key=lambda message: message.id,
        start=0,
    )


def _json(
    conversation: ConversationPublic, batches: Iterator[list[MessagePublic]]
) -> Iterator[bytes]:
    # The same serialisation as the API's responses, written out piece by piece.
    yield b'{"conversation":' + conversation.model_dump_json().encode() + b',"messages":['
    separator = b""
    for batch in batches:
        yield separator + b",".join(message.model_dump_json().encode() for message in batch)
        separator = b","
    yield b"]}"


def _markdown(
    conversation: ConversationPublic, batches: Iterator[list[MessagePublic]]
) -> Iterator[bytes]:
    title = escape_markdown(_one_line(conversation.title or "Untitled conversation"))
    yield f"# {title}\n\n_Started {_when(conversation.created_at)}_\n".encode()
    empty = True
    for batch in batches:
        empty = False
        yield "".join(_message_section(message) for message in batch).encode()
    if empty:
        yield b"\n_No messages._\n"


def _message_section(message: MessagePublic) -> str:
    heading = f"\n### {ROLE_HEADINGS[message.role]} — {_when(message.created_at)}\n\n"
    body = escape_markdown(message.content.strip()) + "\n"
    calls = "".join(f"- {tool_call_line(call)}\n" for call in message.tool_calls or [])
    return heading + body + (f"\n{calls}" if calls else "")


def escape_markdown(text: str) -> str:
    """Text that Markdown renders as written, never as HTML or as a link."""
    text = BACKSLASH_ESCAPED.sub(r"\\\1", text)
    text = CHARACTER_REFERENCE.sub("&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def tool_call_line(call: ToolCall) -> str:
    """`add_task(title="Buy groceries") → created #4`, escaped for Markdown."""
    arguments = ", ".join(
        f"{_one_line(str(name))}={_compact(value)}"
        for name, value in call.arguments.items()
        if value is not None
    )
    line = f"{_one_line(call.name)}({arguments}) → {_result_summary(call.result)}"
    return escape_markdown(line)


def _result_summary(result: Any) -> str:
    if isinstance(result, dict):
        if "error" in result:
            return f"error: {_one_line(str(result['error']))}"
        if result.get("status") is not None and result.get("task_id") is not None:
            return f"{_one_line(str(result['status']))} #{_one_line(str(result['task_id']))}"
    if isinstance(result, list):
        return f"{len(result)} item" + ("" if len(result) == 1 else "s")
    return _compact(result)


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_MAX_CHARS else text[: VALUE_MAX_CHARS - 1] + "…"


def _one_line(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
