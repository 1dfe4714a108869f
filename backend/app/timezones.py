"""IANA time zone names, checked against the zone database (the `tzdata` package when the system
has none), as the chat turn and the tasks receive them."""

from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, Field

DEFAULT_TIMEZONE = "UTC"


@lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """The name itself if it is a known IANA zone; ValueError with a sentence otherwise."""
    # Only names from the list: ZoneInfo() alone would also open paths like "../../etc/x".
    if name not in _known_names() or name == "localtime":
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'")
    return name


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo of a name already checked (stored rows, validated requests)."""
    return ZoneInfo(name)


TimezoneName = Annotated[
    str,
    Field(
        max_length=64,
        description="An IANA time zone name, e.g. 'Europe/Berlin' or 'America/New_York'.",
        examples=["Europe/Berlin"],
    ),
    AfterValidator(check_timezone),
]
