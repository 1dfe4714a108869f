"""The built-in agent: prepare the message, find its intent, act through the tools, answer."""

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from backend.app.agent.base import HistoryMessage
from backend.app.agent.rules import replies
from backend.app.agent.rules.intents import QUESTION, Intent, match_intent
from backend.app.agent.rules.parse import Prepared, normalise, prepare
from backend.app.agent.rules.resolve import Turn
from backend.app.agent.rules.words import warm_up
from backend.app.agent.tools import ToolRunner

_THANKED = re.compile(
    r"\b(?:thanks|thank\s+you|thx|cheers|great|awesome|perfect|cool|nice)\b", re.IGNORECASE
)
# What may stand before a question about the agent: "hi,", "ok so", "um".
_QUESTION_OPENER = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|ok(?:ay)?|so|um+|uh+|quick\s+question|question)(?:\s+there)?"
    r"[\s,!.:;-]*)+",
    re.IGNORECASE,
)


def _help(message: str, prepared: Prepared) -> str:
    if not prepared.text and _THANKED.search(message):  # "OK, thanks!" is all closers
        return replies.THANKS
    if prepared.greeted:
        return replies.greeting_help()
    if not prepared.text:
        return replies.empty_help()
    return replies.outside_help()


def _as_typed(intent: Intent, match: re.Match[str], typed: str) -> re.Match[str]:
    """For a new title, the match over the words as typed when it reads the same: a repaired
    word inside a title stays as typed ("call Dane" is not "call done"), while one that decided
    the command ("add a tsak to …") keeps its repair."""
    if "title" not in match.groupdict():  # references are matched typo-tolerantly anyway
        return match
    again = intent.pattern.match(typed)
    if again is None or (intent.accepts is not None and not intent.accepts(again)):
        return match
    shape = [len((match[g] or "").split()) for g in match.groupdict()]
    same = [len((again[g] or "").split()) for g in again.groupdict()]
    return again if shape == same else match


class RulesAgent:
    """Understands everyday task requests by pattern; deterministic and offline."""

    def __init__(self) -> None:
        warm_up()  # lemminflect loads its tables on first use (~0.5 s): not in a user's turn

    def run(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: ToolRunner,
        *,
        on_delta: Callable[[str], None] | None = None,  # unused: the reply is ready at once
        now: datetime | None = None,
    ) -> str:
        """Answer `message`, acting only through `tools`; anything unknown gets help, no tool.
        `now`: the current time in the user's zone (dates are read there); None: now, in UTC."""
        text = normalise(message)
        if QUESTION.match(_QUESTION_OPENER.sub("", text)):
            return replies.QUESTION_HELP
        prepared = prepare(message)
        asked = text.rstrip(" .!").endswith("?")
        found = match_intent(prepared.text, asked) if prepared.text else None
        if found is None:
            return _help(message, prepared)
        intent, match = found
        if prepared.typed != prepared.text:
            match = _as_typed(intent, match, prepared.typed)
        turn = Turn(tools=tools, history=history, now=now or datetime.now(UTC))
        return intent.handler(match, turn)
