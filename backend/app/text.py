"""Reusable validated string types for request schemas."""

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refusing it here keeps it a 422 on every database.
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\x00) characters")
    return value


NoNulStr = Annotated[str, AfterValidator(_refuse_nul)]
Title = Annotated[NoNulStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[NoNulStr, StringConstraints(strip_whitespace=True, max_length=1000)]
