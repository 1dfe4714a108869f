"""Length limits (the one place each is written) and the validated string types built on them."""

from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler, StringConstraints
from pydantic_core import CoreSchema

# Length limits, in characters; the columns, the request schemas and the docs follow these.
USER_ID_MAX = 255  # a token's `sub`
EMAIL_MAX = 320
NAME_MAX = 255
TITLE_MAX = 200  # a task's or a conversation's title
DESCRIPTION_MAX = 1000
MESSAGE_CONTENT_MAX = 32_000
CHAT_MESSAGE_MAX = 4000  # what one chat turn takes (the page's message box says the same)
TITLE_FROM_MESSAGE_MAX = 60  # a conversation titled from its first message, cut at a word
TOOL_NAME_MAX = 100
SEARCH_QUERY_MAX = 200

# What the validators below enforce, said in the OpenAPI schema too, so that a client (or a
# schema-driven test) knows NUL and blank titles are refused before it sends them.
NO_NUL_PATTERN = r"^[^\x00]*$"
NOT_BLANK_NO_NUL_PATTERN = r"^\s*[^\x00\s][^\x00]*$"


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refusing it here keeps it a 422 on every database.
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\x00) characters")
    return value


class DocumentedPattern:
    """Adds a `pattern` to the JSON schema only (the validators do the checking)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(core_schema)
        json_schema.setdefault("pattern", self.pattern)
        return json_schema


RefuseNul = AfterValidator(_refuse_nul)
NoNulStr = Annotated[str, RefuseNul, DocumentedPattern(NO_NUL_PATTERN)]
# Length constraints sit on `str` itself, before the NUL check: after it, pydantic counts as for
# any value and says "Value should have at least 1 item" instead of "String should have at
# least 1 character".
ChatMessageText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=CHAT_MESSAGE_MAX),
    RefuseNul,
    DocumentedPattern(NO_NUL_PATTERN),
]
MessageContent = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MESSAGE_CONTENT_MAX),
    RefuseNul,
    DocumentedPattern(NO_NUL_PATTERN),
]
ToolName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TOOL_NAME_MAX),
    RefuseNul,
    DocumentedPattern(NO_NUL_PATTERN),
]
# The constraints sit directly on `str` so that pydantic trims *before* it counts: placed after
# a validator they were checked on the untrimmed text (" " became an empty title, and 200
# characters with surrounding spaces were refused).
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX),
    RefuseNul,
    DocumentedPattern(NOT_BLANK_NO_NUL_PATTERN),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_MAX),
    RefuseNul,
    DocumentedPattern(NO_NUL_PATTERN),
]
