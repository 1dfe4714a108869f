"""Reusable validated string types for request schemas."""

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refusing it here keeps it a 422 on every database.
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\x00) characters")
    return value


RefuseNul = AfterValidator(_refuse_nul)
NoNulStr = Annotated[str, RefuseNul]
# The constraints sit directly on `str` so that pydantic trims *before* it counts: placed after
# a validator they were checked on the untrimmed text (" " became an empty title, and 200
# characters with surrounding spaces were refused).
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), RefuseNul
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), RefuseNul]
