"""Which tasks a request is about: ids, "it" / "the first one", or words from their titles.

- Ids ("task 3", "#3", "tasks 4 and 5") are used as they are: the tool says when one is missing.
- "it", "that one", "the first one", "the last one" name what the conversation last talked
  about: the tasks the most recent turn with tool calls changed, or else listed, read from the
  stored history (its tool calls and their results). Nothing but the database is consulted.
- Anything else is matched against the titles `list_tasks` returns: the exact title first, then
  every word the user gave must name a word of the title — by lemma ("bought" finds "Buy"), by
  prefix ("meet" finds "meeting") or, for a word no dictionary knows, by a small typo.
  "the haircut and the sarah email" names two tasks when no one task has all those words.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.app.agent.base import HistoryMessage
from backend.app.agent.rules import replies
from backend.app.agent.rules.lexicon import NUMBER_WORDS, ORDINALS
from backend.app.agent.rules.parse import unquote
from backend.app.agent.rules.words import content_words, same_word, words
from backend.app.agent.tools import ToolRunner

TASK_ID = re.compile(
    r"(?:(?:the\s+)?(?:task|to-?do|item)\s*)?(?:#|number\s*|no\.?\s*|num\.?\s*)?"
    r"(?P<id>\d{1,18})(?:\s+(?:task|one))?"
    # A number word only after "task"/"number": "delete one" is not task 1.
    r"|(?:(?:the\s+)?(?:task|to-?do|item)\s+(?:number\s+)?|number\s+)"
    rf"(?P<word>{'|'.join(NUMBER_WORDS)})",
    re.IGNORECASE,
)
_PRONOUN = re.compile(
    r"it|that|this|(?:that|this|the\s+same)(?:\s+(?:one|task|to-?do|item))?",
    re.IGNORECASE,
)
_PLURAL_PRONOUN = re.compile(
    r"them|those|these|both|(?:both|all)\s+of\s+them|(?:those|these|both)\s+(?:ones|tasks)",
    re.IGNORECASE,
)
_ORDINAL = re.compile(
    rf"(?:the\s+)?(?P<ordinal>{'|'.join(ORDINALS)})(?:\s+(?:one|task|to-?do|item))?",
    re.IGNORECASE,
)
# "the first two", "the last 3": a run from the start or the end of what was shown.
_ORDINAL_RUN = re.compile(
    r"(?:the\s+)?(?P<end>first|last)\s+(?P<count>two|three|four|five|\d)(?:\s+(?:ones|tasks))?",
    re.IGNORECASE,
)
_ID_RANGE = re.compile(
    r"#?(?P<first>\d{1,9})\s*(?:-|–|to|through|thru)\s*#?(?P<last>\d{1,9})", re.IGNORECASE
)
_CALLED = re.compile(
    r"^(?:the\s+|my\s+|a\s+)?(?:task|to-?do|item|one|reminder)\s+(?:called|named|titled|"
    r"that\s+says|saying)\s+",
    re.IGNORECASE,
)
_SHOWN_TASK = re.compile(r"^- #(\d+) ", re.MULTILINE)  # a task line of a reply
_LEADING_NOUN = re.compile(r"^(?:the\s+)?(?:tasks|to-?dos|items|numbers)\s+", re.IGNORECASE)
_SEPARATOR = re.compile(r"\s*(?:,\s*(?:and\s+|&\s+)?|\s+and\s+|\s+&\s+)\s*", re.IGNORECASE)
_BARE_PHRASE = re.compile(r"^(?:(?:the|my|a|an)\s+)+|\s+(?:task|to-?do|item|one)$", re.IGNORECASE)
_TRAILING_LIST_PHRASE = re.compile(
    r"\s+(?:(?:to|on|onto|in|into|from|off|out\s+of)\s+(?:my|the)\s+(?:to-?do\s+|task\s+)?"
    r"(?:list|tasks|to-?dos)|off)$",
    re.IGNORECASE,
)
_BULK = re.compile(r"\b(?:all|every|everything|each)\b", re.IGNORECASE)
_BULK_WORDS = {"all", "every", "everything", "each", "completed", "done", "finished", "pending"}


@dataclass(frozen=True)
class Target:
    """A task a request resolved to; title and state are known when it was found by listing."""

    task_id: int
    title: str | None = None
    completed: bool | None = None


@dataclass(frozen=True)
class Action:
    verb: str  # as in "Which task should I {verb}?"
    example: str  # a command for one task, with {id}: shown when asking which task
    prefer_open: bool = False  # "I finished the laundry" means this week's, not last week's


DELETE = Action("delete", "delete task {id}")
COMPLETE = Action("mark as complete", "mark task {id} as complete", prefer_open=True)
DESCRIBE = Action("update", "set the description of task {id} to …")
RESCHEDULE = Action("change", "move task {id} to friday", prefer_open=True)


def rename(title: str) -> Action:
    return Action(f'rename to "{title}"', f'rename task {{id}} to "{title}"')


@dataclass
class Turn:
    """What a handler may use: the tools (its only way to act), the earlier messages, and the
    current time in the user's zone."""

    tools: ToolRunner
    history: Sequence[HistoryMessage]
    now: datetime


def error_code(result: Any) -> str | None:
    """The typed code of a failed tool call ("not_found", …), or None when it succeeded."""
    if isinstance(result, dict) and "error" in result:
        return str(result.get("code") or "failed")
    return None


def task_id_of(ref: str) -> int | None:
    if match := TASK_ID.fullmatch(ref.strip()):
        return int(match["id"]) if match["id"] else NUMBER_WORDS[match["word"].lower()]
    return None


def _id_list(ref: str) -> list[int] | None:
    """'tasks 4 and 5', '1, 2 and 5', '#4, #5', '1-3' → the ids; None unless every part is an
    id."""
    ref = _LEADING_NOUN.sub("", ref.strip())
    if (span := _ID_RANGE.fullmatch(ref)) and 0 < int(span["last"]) - int(span["first"]) < 20:
        return list(range(int(span["first"]), int(span["last"]) + 1))
    parts = _SEPARATOR.split(ref)
    if len(parts) == 1 or any(task_id_of(p) is None for p in parts):  # "1 2 and 4"
        parts = [p for part in parts for p in part.split()]
    ids = [task_id_of(p) for p in parts]
    return ids if len(ids) >= 2 and all(i is not None for i in ids) else None  # type: ignore


@dataclass(frozen=True)
class Mention:
    targets: list[Target]
    listed: bool  # shown by a listing (or a lookup), not changed


def mentioned(history: Sequence[HistoryMessage]) -> Mention:
    """The tasks the most recent turn with tool calls changed (in order), or else listed."""
    for message in reversed(history):
        changed: list[Target] = []
        listed: list[Target] = []
        for call in message.tool_calls or []:
            result = call.get("result") if isinstance(call, dict) else None
            if isinstance(result, dict) and isinstance(result.get("task_id"), int):
                # A task that turn completed is known done: "mark it done" then says so.
                done = True if result.get("status") == "completed" else None
                changed.append(Target(result["task_id"], result.get("title"), done))
            elif isinstance(result, list):
                listed = [
                    Target(t["id"], t.get("title"), t.get("completed"))
                    for t in result
                    if isinstance(t, dict) and isinstance(t.get("id"), int)
                ]
        if changed:
            return Mention(changed, listed=False)
        if listed:
            return Mention(_as_shown(listed, message.content), listed=True)
    return Mention([], listed=False)


def _as_shown(listed: list[Target], reply: str) -> list[Target]:
    """The listed tasks the reply showed, in its order: a lookup lists every task, but "which
    one?" shows only the matches ("- #4 Team meeting"), and "the first one" means the first
    of those."""
    by_id = {t.task_id: t for t in listed}
    shown = [by_id[int(i)] for i in _SHOWN_TASK.findall(reply) if int(i) in by_id]
    return shown or listed


def _by_history(turn: Turn, ref: str, action: Action) -> list[Target] | str | None:
    """Targets for "it" / "the second one"; None when `ref` is no such word."""
    if _PRONOUN.fullmatch(ref):
        recent = mentioned(turn.history)
        # After a listing of several, "it" could be any of them: ask.
        if not recent.targets or (recent.listed and len(recent.targets) > 1):
            return replies.which_pronoun(action.verb)
        return [recent.targets[-1]]
    if _PLURAL_PRONOUN.fullmatch(ref):
        # "delete them" after "add X and Y": both. After a listing it would be everything shown:
        # that is too much to do on a pronoun, so ask.
        recent = mentioned(turn.history)
        if not recent.targets or recent.listed:
            return replies.which_pronoun(action.verb)
        return recent.targets
    if match := _ORDINAL_RUN.fullmatch(ref):
        targets = mentioned(turn.history).targets
        word = match["count"].lower()
        count = int(word) if word.isdigit() else NUMBER_WORDS[word]
        if not targets or count > len(targets):
            return replies.which_pronoun(action.verb)
        return targets[:count] if match["end"].lower() == "first" else targets[-count:]
    if match := _ORDINAL.fullmatch(ref):
        targets = mentioned(turn.history).targets
        index = ORDINALS[match["ordinal"].lower()]
        if not targets or index >= len(targets):
            return replies.which_pronoun(action.verb)
        return [targets[index]]
    return None


def _matching(tasks: list[dict[str, Any]], phrase: str, action: Action) -> list[dict[str, Any]]:
    wanted = content_words(phrase)
    # The exact title wins over word matches: "Meeting" is not ambiguous with "Team meeting".
    matches = [t for t in tasks if t["title"].casefold() == phrase.casefold()]
    if not matches and wanted:
        matches = [
            t
            for t in tasks
            if all(any(same_word(w, tw) for tw in words(t["title"])) for w in wanted)
        ]
    if action.prefer_open and any(not t["completed"] for t in matches):
        matches = [t for t in matches if not t["completed"]]
    return matches


def _target(task: dict[str, Any]) -> Target:
    return Target(task["id"], task["title"], task["completed"])


def resolve(turn: Turn, ref: str, action: Action) -> list[Target] | str:
    """The tasks `ref` names, or the reply to give instead (not found, ambiguous, unclear)."""
    ref = _TRAILING_LIST_PHRASE.sub("", ref.strip()).strip(" ,;:-")
    ref = _CALLED.sub("", ref)  # "the task called 'milk'" is "'milk'"
    if (task_id := task_id_of(ref)) is not None:
        return [Target(task_id)]
    if (ids := _id_list(ref)) is not None:
        return [Target(i) for i in ids]
    if (found := _by_history(turn, ref, action)) is not None:
        return found
    phrase, quoted = unquote(ref)
    wanted = content_words(phrase)
    # "all my tasks", "every completed task": a bulk request (a title word "all" is fine).
    if not quoted and _BULK.search(phrase) and set(wanted) <= _BULK_WORDS:
        return replies.one_at_a_time(action.verb)
    if not wanted:
        return replies.which_task(action.verb, action.example.format(id=3))

    tasks = turn.tools("list_tasks", {"status": "all"})
    if error_code(tasks):
        return replies.failed(str(tasks["error"]))
    if not quoted:  # "the zoo task" is looked for, and named, as "zoo"
        phrase = _BARE_PHRASE.sub("", phrase) or phrase
    matches = _matching(tasks, phrase, action)
    if len(matches) == 1:
        return [_target(matches[0])]
    if not quoted:  # "the haircut and the sarah email": one task each
        parts = [p for p in _SEPARATOR.split(phrase) if p.strip()]
        if len(parts) >= 2:
            each = [_matching(tasks, _BARE_PHRASE.sub("", p) or p, action) for p in parts]
            if all(len(m) == 1 for m in each):
                return [_target(m[0]) for m in each]
    if not matches:
        return replies.no_match(phrase)
    example = action.example.format(id=matches[0]["id"])
    return replies.ambiguous(phrase, matches, action.verb, example)
