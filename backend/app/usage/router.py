"""The usage route: a user's chat turns and model tokens per UTC day."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import GetCoreSchemaHandler, GetPydanticSchema, WithJsonSchema
from pydantic_core import CoreSchema, core_schema

from backend.app.auth.dependencies import CurrentUser
from backend.app.deps import SessionDep
from backend.app.models import utcnow
from backend.app.openapi import COMMON_ERRORS
from backend.app.usage import service as usage_service
from backend.app.usage.schemas import UsageReport

router = APIRouter(prefix="/api/{user_id}", tags=["usage"], responses=COMMON_ERRORS)

DEFAULT_DAYS = 30


def _calendar_date(value: str) -> date:
    # The pattern below admits only YYYY-MM-DD; this refuses the impossible ones (2026-02-30).
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date of the calendar") from None


# Exactly YYYY-MM-DD: pydantic's own date type also takes Unix timestamps, which a client
# sending one by mistake should hear about.
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _date_string_schema(_source: Any, _handler: GetCoreSchemaHandler) -> CoreSchema:
    # A string matching the pattern, then a date of the calendar: the validation of
    # Annotated[str, StringConstraints(pattern=...), AfterValidator(...)], but typed as the
    # date it gives rather than the string it takes.
    return core_schema.no_info_after_validator_function(
        _calendar_date, core_schema.str_schema(pattern=DATE_PATTERN)
    )


DateQuery = Annotated[
    date,
    GetPydanticSchema(_date_string_schema),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]

DESCRIPTION = f"""Your chat turns and the model's tokens per UTC day, from `from` to `to`
(inclusive, `YYYY-MM-DD`; by default the last {DEFAULT_DAYS} days up to today). Days without a
turn are left out. A turn of the built-in agent counts as a turn with no tokens. Deleted
conversations do not lower the figures: they are the record of what was spent.
"""


@router.get(
    "/usage",
    summary="Your chat turns and model tokens per day",
    description=DESCRIPTION,
    responses={422: {"description": "A date that is not YYYY-MM-DD, or `from` after `to`"}},
)
def get_usage(
    session: SessionDep,
    user: CurrentUser,
    from_: Annotated[
        DateQuery | None,
        Query(alias="from", description="First day, YYYY-MM-DD (UTC)"),
    ] = None,
    to: Annotated[
        DateQuery | None,
        Query(description="Last day, YYYY-MM-DD (UTC); default today"),
    ] = None,
) -> UsageReport:
    last = to or (utcnow().date() if from_ is None else max(from_, utcnow().date()))
    # By ordinal, so that the first days of the calendar (no 30 days before them) stay a 200.
    first = from_ or date.fromordinal(max(1, last.toordinal() - (DEFAULT_DAYS - 1)))
    if first > last:
        # FastAPI's own 422 shape, like the dates' other errors.
        raise RequestValidationError(
            [
                {
                    "type": "date_range",
                    "loc": ("query", "from"),
                    "msg": "`from` must not be after `to`",
                    "input": first.isoformat(),
                }
            ]
        )
    return usage_service.usage_report(session, user.id, first, last)
