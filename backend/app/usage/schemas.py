"""Token counts as the API shows them: a turn's usage, and per-day and total sums."""

from datetime import date

from pydantic import BaseModel, Field, NonNegativeInt, model_validator


class TurnUsage(BaseModel):
    """The model's own token counts of one chat turn, summed over its model calls."""

    model: str = Field(max_length=255)
    prompt_tokens: NonNegativeInt = 0
    completion_tokens: NonNegativeInt = 0
    total_tokens: NonNegativeInt = 0

    @model_validator(mode="after")
    def _total_at_least_its_parts(self) -> "TurnUsage":
        # Some OpenAI-compatible servers leave the total out; it is never below its parts.
        self.total_tokens = max(self.total_tokens, self.prompt_tokens + self.completion_tokens)
        return self


class UsageTotals(BaseModel):
    turns: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class UsageDayPublic(UsageTotals):
    date: date


class UsageReport(BaseModel):
    """Chat turns and model tokens per UTC day of the range (days without a turn left out)."""

    days: list[UsageDayPublic]
    total: UsageTotals
