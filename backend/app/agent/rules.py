"""The built-in rule-based agent (`AGENT=rules`): deterministic, offline, standard library only.

A message is normalised (curly quotes, spaces, polite openers such as "could you please"), then
tried against a small ordered table of intents: compiled regexes, each with one handler. Handlers
act only through the task tools (`tools(name, arguments)`) and answer in a friendly sentence that
names the task they touched; anything unrecognised gets a help answer and no tool call at all.

Order is the whole trick. Intents anchored on a leading verb ("add …", "change … to …",
"delete …") come before the loose ones ("… is done", "what … pending"), so the first verb of the
message decides: "Add a task to delete old files" adds, "Delete task 3" deletes, "Change task 1
to X" renames.

Tasks named by title words are found by listing the tasks first and matching words
case-insensitively (stop words like "the", "my", "task" ignored). One match is acted on; several
matches get a question naming them, with their ids, and change nothing; a bare id sent after that
question ("2") finishes the action the question was about.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from backend.app.agent.base import HistoryMessage
from backend.app.agent.tools import ToolRunner
from backend.app.models import TITLE_MAX

# ---------------------------------------------------------------------------------------------
# Vocabulary shared by the patterns
# ---------------------------------------------------------------------------------------------

# What a task may be called ("task", "to-do", "item", …).
_NOUN = r"(?:tasks?|to-?dos?|items?|reminders?|entry|entries)"
# Words between an add verb and the title: "add a task TO buy milk", "a task CALLED 'x'".
_CONNECTOR = r"(?:(?:to|for|called|named|titled|that\s+says|saying)\b|[:\-])"
# "… to my list", "… on the to-do list": decoration around a title or a task reference.
_LIST_PHRASE = (
    r"(?:to|on|onto|in|into|from|off|out\s+of)\s+(?:my|the)\s+"
    r"(?:to-?do\s+|task\s+|shopping\s+|grocery\s+)?(?:list|tasks|to-?dos)"
)
# States a task can be put in; "done" ones complete it, the others would reopen it.
_DONE_STATE = r"(?:done|complete|completed|finished|checked(?:\s+off)?|ticked(?:\s+off)?)"
_REOPEN_STATE = (
    r"(?:not\s+(?:yet\s+)?(?:done|complete|completed|finished)|incomplete|uncompleted|undone|"
    r"unfinished|pending|open|to\s?do|active)"
)

_DONE_STATE_RE = re.compile(_DONE_STATE, re.IGNORECASE)
_REOPEN_STATE_RE = re.compile(_REOPEN_STATE, re.IGNORECASE)

# Which tasks a listing asks for; the negative forms are tried first ("not done" is pending).
_PENDING_WORDS = re.compile(
    r"\b(?:pending|left|remaining|open|outstanding|unfinished|incomplete|uncompleted|undone|"
    r"not\s+(?:yet\s+)?(?:done|completed?|finished)|still|active|upcoming|next|"
    r"(?:have|need|got)\s+to\s+do|to\s+do\b(?!\s+list))",
    re.IGNORECASE,
)
_COMPLETED_WORDS = re.compile(
    r"\b(?:completed?|done|finished|finish|accomplished|ticked|checked\s+off|crossed\s+off)\b",
    re.IGNORECASE,
)
_LIST_NOUN = r"(?:tasks?|to-?dos?|list|items?|agenda|reminders?|plate)"

# Words that carry no meaning when matching a task by its title.
_STOP_WORDS = frozenset(
    "a an the my your our this that these those it its task tasks todo todos to do item items "
    "one ones thing entry reminder list please called named titled about for with of on in "
    "from off i me im am m is are as s".split()
)

_QUOTE_CHARS = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "`": "'"}
)
_FULLY_QUOTED = re.compile(r"'(?P<single>.*)'|\"(?P<double>.*)\"")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|yo|greetings|good\s+(?:morning|afternoon|evening))\b",
    re.IGNORECASE,
)
# Openers that add politeness but no meaning: a whole run of them is stripped from the front.
_POLITE_OPENER = re.compile(
    r"^(?:(?:"
    r"(?:hi|hello|hey|hiya|howdy|yo|greetings|good\s+(?:morning|afternoon|evening))"
    r"(?:\s+there)?"
    r"|ok(?:ay)?|alright|so|um+|uh+|hmm+|oh|actually|wait|please|pls|plz|kindly"
    r"|just|also|and|then|now"
    r"|(?:could|can|would|will)\s+you(?:\s+please)?|would\s+you\s+mind"
    r"|(?:i'd|i\s+would)\s+like\s+you\s+to|i\s+want\s+you\s+to|go\s+ahead\s+and"
    # "I want to / let me / can I" only before a command verb: "I want to buy milk" stays.
    r"|(?:i\s+want\s+to|i\s+wanna|(?:i'd|i\s+would)\s+like\s+to|let\s+me|let's|(?:can|could|may)"
    r"\s+i)(?=\s+(?:add|create|make|see|view|show|list|delete|remove|cancel|mark|complete|"
    r"finish|check|tick|cross|rename|change|update|edit|set|know)\b)"
    # "I need to add…" is a command; "I need to cancel the dentist" stays a task to add.
    r"|i\s+(?:need|have)\s+to(?=\s+(?:add|create|see|view|show|list)\b)"
    r")\b[\s,!.:;-]*)+",
    re.IGNORECASE,
)
# Closers that add nothing: "…, please", "… thanks!". The lookbehind starts the match only at
# the beginning of a run of separators, so a long run of commas costs linear time.
_POLITE_CLOSER = re.compile(
    r"(?<![\s,])[\s,]+(?:please|pls|plz|thanks|thank\s+you|thx|for\s+me)$", re.IGNORECASE
)
_CLOSING_PUNCTUATION = " .!?\u2026,;"
_NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        "one two three four five six seven eight nine ten eleven twelve".split(), start=1
    )
}
_TASK_ID = re.compile(
    r"(?:(?:the\s+)?(?:task|to-?do|item)\s*)?(?:#|number\s*|no\.?\s*|num\.?\s*)?"
    r"(?P<id>\d{1,18})(?:\s+(?:task|one))?"
    # A number word only after "task"/"number": "delete one" is not task 1.
    r"|(?:(?:the\s+)?(?:task|to-?do|item)\s+(?:number\s+)?|number\s+)"
    rf"(?P<word>{'|'.join(_NUMBER_WORDS)})",
    re.IGNORECASE,
)
_PRONOUN = re.compile(
    r"it|that|this|(?:that|this|the\s+last|the\s+same)\s+(?:one|task|to-?do|item)",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(rf"(?:(?:a|an|new|the|{_NOUN})\b\s*)+", re.IGNORECASE)
_BARE_PHRASE = re.compile(r"^(?:(?:the|my|a|an)\s+)+|\s+(?:task|to-?do|item|one)$", re.IGNORECASE)
_BULK = re.compile(r"\b(?:all|every|everything|each)\b", re.IGNORECASE)
_BULK_WORDS = {"all", "every", "everything", "each", "completed", "done", "finished", "pending"}
_TRAILING_LIST_PHRASE = re.compile(rf"\s+{_LIST_PHRASE}$|\s+off$", re.IGNORECASE)
_LEADING_LIST_PHRASE = re.compile(rf"^{_LIST_PHRASE}\s*[:\-]?\s*", re.IGNORECASE)
_ADD_DESCRIPTION = re.compile(
    r"^(?P<title>.+?)\s+with\s+(?:a\s+|the\s+)?description\s*[:\-]?\s*(?P<description>.+)$",
    re.IGNORECASE,
)
# "the description of task 2", "task 2's title": which field an update is about.
_FIELD_BEFORE = re.compile(
    r"^(?:the\s+)?(?P<field>title|name|description|desc|details|notes?)\s+(?:of|for|on)\s+"
    r"(?P<ref>.+)$",
    re.IGNORECASE,
)
_FIELD_AFTER = re.compile(
    r"^(?P<ref>.+?)(?:'s)?\s+(?P<field>title|name|description|desc|details|notes?)$",
    re.IGNORECASE,
)
_DESCRIPTION_FIELDS = {"description", "desc", "details", "note", "notes"}
# The question an ambiguous request ends with; a later bare id answers it.
_PENDING_QUESTION = re.compile(
    r"Which one should I (?P<verb>delete|mark as complete|rename to \"(?P<title>.*)\")\?"
)

_HELP = (
    "I can help you manage your to-do list. Try:\n"
    '- "Add a task to buy groceries"\n'
    '- "Show me all my tasks", "What\'s pending?" or "What have I completed?"\n'
    '- "Mark task 3 as complete"\n'
    '- "Delete the meeting task"\n'
    "- \"Change task 1 to 'Call mom tonight'\""
)
_THANKS_REPLY = "Glad to help! Anything else for your to-do list?"
_THANKED = re.compile(r"\b(?:thanks|thank\s+you|thx|cheers)\b", re.IGNORECASE)
_SHOW_HINT = 'Say "show my tasks" to see your list.'


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


@dataclass
class _Turn:
    """What a handler may use: the tools (its only way to act) and the earlier messages."""

    tools: ToolRunner
    history: Sequence[HistoryMessage]


@dataclass(frozen=True)
class _Target:
    """A task a request resolved to; `title` is known only when it was found by listing."""

    task_id: int
    title: str | None = None
    completed: bool = False


@dataclass(frozen=True)
class _Action:
    verb: str  # as in "Which task should I {verb}?"
    example: str  # a command for one task, with {id}: shown when asking which task


_DELETE = _Action("delete", "delete task {id}")
_COMPLETE = _Action("mark as complete", "mark task {id} as complete")
_DESCRIBE = _Action("update", "set the description of task {id} to …")


def _rename(title: str) -> _Action:
    return _Action(f'rename to "{title}"', f'rename task {{id}} to "{title}"')


def _error(result: Any) -> str | None:
    if isinstance(result, dict) and "error" in result:
        return str(result["error"])
    return None


def _tool_failed(error: str, task_id: int | None = None) -> str:
    # A missing id comes back as "task 7 not found" (or, out of range, as invalid task_id).
    if task_id is not None and ("not found" in error or "task_id" in error):
        return f"Task {task_id} was not found. {_SHOW_HINT}"
    return f"Sorry, I couldn't do that: {error}."


def _unquote(text: str) -> tuple[str, bool]:
    """The text inside matching quotes, if the whole text is quoted."""
    match = _FULLY_QUOTED.fullmatch(text.strip())
    if match:
        return (match["single"] or match["double"] or "").strip(), True
    return text.strip(), False


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _title_from(text: str) -> str:
    """A title from free text: list decoration dropped; as typed if quoted, else capitalised."""
    text = _LEADING_LIST_PHRASE.sub("", text.strip())
    text = _TRAILING_LIST_PHRASE.sub("", text).strip()
    inner, quoted = _unquote(text)
    if quoted:
        return inner
    return _capitalise(inner.strip(" ,;:-.!?"))


def _is_placeholder(title: str) -> bool:
    # "Add a task" names no task: only articles and task nouns are left.
    return not title or _PLACEHOLDER.fullmatch(title) is not None


def _words(text: str) -> list[str]:
    # Single letters ("s" of "mom's") carry nothing; digits do ("buy 2 apples").
    return [w for w in re.findall(r"\w+", text.casefold()) if len(w) > 1 or w.isdigit()]


def _content_words(text: str) -> list[str]:
    return [w for w in _words(text) if w not in _STOP_WORDS]


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and len(word) > 3:
        return word[:-1]
    return word


def _same_word(wanted: str, word: str) -> bool:
    """'groceries' finds 'grocery', 'meet' finds 'meeting'; short words must match exactly."""
    return (
        wanted == word
        or _stem(wanted) == _stem(word)
        or (len(wanted) >= 3 and word.startswith(wanted))
    )


def _task_line(task: dict[str, Any]) -> str:
    return f"- #{task['id']} {task['title']}" + (" ✓" if task["completed"] else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _last_task_id(history: Sequence[HistoryMessage]) -> int | None:
    """The task the conversation last touched, for "delete it" / "mark that as done"."""
    for message in reversed(history):
        for call in reversed(message.tool_calls or []):
            result = call.get("result") if isinstance(call, dict) else None
            if isinstance(result, dict) and isinstance(result.get("task_id"), int):
                return result["task_id"]
    return None


# ---------------------------------------------------------------------------------------------
# Finding the task a request is about
# ---------------------------------------------------------------------------------------------


def _resolve(turn: _Turn, ref: str, action: _Action) -> _Target | str:
    """The task `ref` names, or the reply to give instead (not found, ambiguous, unclear).

    An id ("task 3", "#3", "number 3", "3") is used as is: the tool itself says when it does not
    exist. Anything else is matched against the titles listed by `list_tasks`.
    """
    ref = _TRAILING_LIST_PHRASE.sub("", ref.strip()).strip(" ,;:-")
    if match := _TASK_ID.fullmatch(ref):
        return _Target(int(match["id"]) if match["id"] else _NUMBER_WORDS[match["word"].lower()])
    if _PRONOUN.fullmatch(ref):
        task_id = _last_task_id(turn.history)
        if task_id is None:
            return f'Which task should I {action.verb}? Tell me its number, e.g. "task 3".'
        return _Target(task_id)
    phrase, quoted = _unquote(ref)
    wanted = _content_words(phrase)
    # "all my tasks", "every completed task": a bulk request (a title word "all" is fine).
    if not quoted and _BULK.search(phrase) and set(wanted) <= _BULK_WORDS:
        return (
            f"I can only {action.verb} one task at a time. Which one? "
            f"Tell me its number or a word from its title. {_SHOW_HINT}"
        )
    if not wanted:
        return (
            f"Which task should I {action.verb}? "
            f'Tell me its number or a word from its title, e.g. "{action.example.format(id=3)}".'
        )

    tasks = turn.tools("list_tasks", {"status": "all"})
    if error := _error(tasks):
        return _tool_failed(error)
    if not quoted:  # "the zoo task" is looked for, and named, as "zoo"
        phrase = _BARE_PHRASE.sub("", phrase) or phrase
    # The exact title wins over word matches: "Meeting" is not ambiguous with "Team meeting".
    matches = [t for t in tasks if t["title"].casefold() == phrase.casefold()]
    if not matches:
        matches = [
            t
            for t in tasks
            if all(any(_same_word(w, tw) for tw in _words(t["title"])) for w in wanted)
        ]
    if action is _COMPLETE and any(not t["completed"] for t in matches):
        # "I finished the laundry" means the laundry still open, not last week's.
        matches = [t for t in matches if not t["completed"]]

    if not matches:
        return f'No task matches "{phrase}". {_SHOW_HINT}'
    if len(matches) > 1:
        lines = "\n".join(_task_line(t) for t in matches)
        example = action.example.format(id=matches[0]["id"])
        return (
            f'{len(matches)} tasks match "{phrase}":\n{lines}\n'
            f'Which one should I {action.verb}? Tell me its number, e.g. "{example}".'
        )
    task = matches[0]
    return _Target(task["id"], task["title"], task["completed"])


# ---------------------------------------------------------------------------------------------
# What each action does once its task is known
# ---------------------------------------------------------------------------------------------


def _do_complete(turn: _Turn, ref: str) -> str:
    target = _resolve(turn, ref, _COMPLETE)
    if isinstance(target, str):
        return target
    if target.completed:  # found by title, already done: nothing to change
        return f'"{target.title}" is already complete.'
    result = turn.tools("complete_task", {"task_id": target.task_id})
    if error := _error(result):
        return _tool_failed(error, target.task_id)
    return f'Marked "{result["title"]}" as complete.'


def _do_delete(turn: _Turn, ref: str) -> str:
    target = _resolve(turn, ref, _DELETE)
    if isinstance(target, str):
        return target
    result = turn.tools("delete_task", {"task_id": target.task_id})
    if error := _error(result):
        return _tool_failed(error, target.task_id)
    return f'Deleted "{result["title"]}".'


def _do_rename(turn: _Turn, ref: str, new_title: str) -> str:
    if len(new_title) > TITLE_MAX:
        return f"That title is too long: please keep it under {TITLE_MAX} characters."
    target = _resolve(turn, ref, _rename(new_title))
    if isinstance(target, str):
        return target
    result = turn.tools("update_task", {"task_id": target.task_id, "title": new_title})
    if error := _error(result):
        return _tool_failed(error, target.task_id)
    return f'Renamed task {result["task_id"]} to "{result["title"]}".'


def _do_describe(turn: _Turn, ref: str, description: str) -> str:
    target = _resolve(turn, ref, _DESCRIBE)
    if isinstance(target, str):
        return target
    result = turn.tools("update_task", {"task_id": target.task_id, "description": description})
    if error := _error(result):
        return _tool_failed(error, target.task_id)
    return f'Updated the description of "{result["title"]}" (task {result["task_id"]}).'


def _cannot_reopen() -> str:
    # No tool reopens a task; say so rather than guess.
    return (
        "Sorry, I can't mark a task as not done yet: I can add, complete, rename or delete "
        "tasks. You can add it again as a new task."
    )


# ---------------------------------------------------------------------------------------------
# Intent handlers: one per row of the table below
# ---------------------------------------------------------------------------------------------

Match = re.Match[str]


def _answer_pending_question(match: Match, turn: _Turn) -> str:
    # "2" right after "Which one should I delete?" finishes that request.
    task_id = match["id"]
    last_reply = next((m.content for m in reversed(turn.history) if m.role == "assistant"), "")
    question = _PENDING_QUESTION.search(last_reply)
    if question is None:
        return (
            f'What should I do with task {task_id}? For example: "mark task {task_id} as '
            f'complete", "delete task {task_id}" or "rename task {task_id} to …".'
        )
    if question["verb"] == "delete":
        return _do_delete(turn, task_id)
    if question["verb"] == "mark as complete":
        return _do_complete(turn, task_id)
    return _do_rename(turn, task_id, question["title"])


def _thanks(match: Match, turn: _Turn) -> str:
    return _THANKS_REPLY


def _explain(match: Match, turn: _Turn) -> str:
    return _HELP


def _add(match: Match, turn: _Turn) -> str:
    text = match["title"]
    description = None
    if extra := _ADD_DESCRIPTION.fullmatch(text):
        text, description = extra["title"], _unquote(extra["description"])[0]
    title = _title_from(text)
    if _is_placeholder(title):
        return 'What should the task say? For example: "Add a task to buy groceries".'
    if len(title) > TITLE_MAX:
        return f"That title is too long: please keep it under {TITLE_MAX} characters."
    arguments: dict[str, Any] = {"title": title}
    if description:
        arguments["description"] = description
    result = turn.tools("add_task", arguments)
    if error := _error(result):
        return _tool_failed(error)
    return f'Added "{result["title"]}" to your list (task {result["task_id"]}).'


def _update(match: Match, turn: _Turn) -> str:
    ref, (value, quoted) = match["ref"], _unquote(match["value"])
    if not quoted and _DONE_STATE_RE.fullmatch(value):  # "set task 3 to done"
        return _do_complete(turn, ref)
    if not quoted and _REOPEN_STATE_RE.fullmatch(value):
        return _cannot_reopen()
    field = "title"
    if not _unquote(ref)[1]:  # a quoted reference is a title, never "the title of …"
        if found := _FIELD_BEFORE.fullmatch(ref) or _FIELD_AFTER.fullmatch(ref.strip()):
            field, ref = found["field"].casefold(), found["ref"]
    if field in _DESCRIPTION_FIELDS:
        return _do_describe(turn, ref, value)
    new_title = value if quoted else _title_from(value)
    if not new_title:
        return _ask_new_title(match, turn)
    return _do_rename(turn, ref, new_title)


def _add_description(match: Match, turn: _Turn) -> str:
    return _do_describe(turn, match["ref"], _unquote(match["value"])[0])


def _ask_new_title(match: Match, turn: _Turn) -> str:
    return "What should the new title be? For example: \"Rename task 2 to 'Call mom tonight'\"."


def _mark(match: Match, turn: _Turn) -> str:
    state = match["state"] or ""
    if _REOPEN_STATE_RE.fullmatch(state):
        return _cannot_reopen()
    return _do_complete(turn, match["ref"])


def _complete(match: Match, turn: _Turn) -> str:
    return _do_complete(turn, match["ref"])


def _delete(match: Match, turn: _Turn) -> str:
    return _do_delete(turn, match["ref"])


def _list(match: Match, turn: _Turn) -> str:
    text = match.string
    if _PENDING_WORDS.search(text):
        status = "pending"
    elif _COMPLETED_WORDS.search(text):
        status = "completed"
    else:
        status = "all"
    tasks = turn.tools("list_tasks", {"status": status})
    if error := _error(tasks):
        return _tool_failed(error)
    if not tasks:
        return {
            "all": 'Your list is empty. Say "Add a task to …" to start one.',
            "pending": "You have no pending tasks. 🎉",
            "completed": "You haven't completed any tasks yet.",
        }[status]
    if status == "pending":
        header = f"You have {_plural(len(tasks), 'pending task')}:"
    elif status == "completed":
        header = f"You've completed {_plural(len(tasks), 'task')}:"
    else:
        done = sum(1 for t in tasks if t["completed"])
        header = f"You have {_plural(len(tasks), 'task')}" + (f" ({done} done):" if done else ":")
    return header + "\n" + "\n".join(_task_line(t) for t in tasks)


# ---------------------------------------------------------------------------------------------
# The table: tried in order, first match wins
# ---------------------------------------------------------------------------------------------

Handler = Callable[[Match, _Turn], str]


@dataclass(frozen=True)
class Intent:
    """One row of the table: a pattern over the prepared message and what to do on a match."""

    name: str
    pattern: re.Pattern[str]
    handler: Handler


def _intent(name: str, pattern: str, handler: Handler) -> Intent:
    return Intent(name, re.compile(pattern, re.IGNORECASE), handler)


_UPDATE_VERB = r"(?:change|rename|update|edit|modify|set|retitle|reword)"
_DELETE_VERB = (
    r"(?:delete|remove|cancel|drop|erase|trash|scrap|discard|ditch|get\s+rid\s+of|"
    r"forget\s+about|throw\s+(?:away|out))"
)

INTENTS: tuple[Intent, ...] = (
    # A bare id only makes sense as the answer to "Which one should I …?".
    _intent("answer", r"^(?:task\s*)?(?:#|number\s*)?(?P<id>\d{1,18})$", _answer_pending_question),
    _intent(
        "thanks",
        r"^(?:thanks|thank\s+you|thx|ty|cheers|great|awesome|perfect|cool|nice|got\s+it)"
        r"(?:\s+(?:so\s+much|a\s+lot|again))?$",
        _thanks,
    ),
    _intent(
        "help",
        r"^(?:help(?:\s+me)?|what\s+(?:can|do)\s+you\s+do|how\s+does\s+(?:this|it)\s+work|"
        r"what\s+are\s+you|who\s+are\s+you|commands|options|menu)$",
        _explain,
    ),
    # Before "add": "add a description to task 2: …" changes task 2, it adds nothing.
    _intent(
        "add_description",
        r"^(?:add|put|write)\s+(?:a\s+|the\s+)?(?:description|note|details|notes)\s+"
        r"(?:to|for|on)\s+(?P<ref>.+?)\s*(?::|\s-\s|\s+saying\b|\s+that\s+says\b)\s*(?P<value>.+)$",
        _add_description,
    ),
    # --- add: first, so "Add a task to delete old files" is an add ---
    _intent(
        "add",
        rf"^add\b\s*(?:(?:a|an|one|another)\s+)?(?:new\s+)?(?:{_NOUN}\b)?\s*{_CONNECTOR}?"
        r"\s*(?P<title>.*)$",
        _add,
    ),
    _intent(
        "create",
        rf"^(?:create|make|jot\s+down|note\s+down|write\s+down)\s+(?:(?:a|an|one|another)\s+)?"
        rf"(?:new\s+)?(?:{_NOUN}|note)\b\s*{_CONNECTOR}?\s*(?P<title>.*)$",
        _add,
    ),
    _intent(
        "set_reminder",
        rf"^set\s+(?:up\s+)?(?:a|an)\s+(?:new\s+)?{_NOUN}\s+(?:to|for)\b\s*(?P<title>.*)$",
        _add,
    ),
    _intent("new", rf"^new\s+{_NOUN}\b\s*{_CONNECTOR}?\s*(?P<title>.*)$", _add),
    _intent("labelled", rf"^(?:{_NOUN}|note)\s*[:\-]\s*(?P<title>.+)$", _add),
    _intent("put_on_list", rf"^put\s+(?P<title>.+?)\s+{_LIST_PHRASE}$", _add),
    _intent("jot", r"^(?:jot|note|write)\s+down\s+(?P<title>.+)$", _add),
    _intent(
        "remember",
        r"^(?:(?:i\s+)?(?:need|have|want|must|should|got)\s+(?:to\s+)?remember\s+to"
        r"|remind\s+me\s+(?:to|about)|remember\s+to"
        r"|(?:don't|do\s+not)\s+(?:let\s+me\s+)?forget\s+(?:to|about)"
        r"|i(?:\s+(?:really\s+)?(?:need|have|got|have\s+got|ought)|'ve\s+got)\s+to"
        r"|i\s+(?:must|should|gotta)|i(?:'ll|\s+will)\s+(?:have|need)\s+to"
        r")\s+(?P<title>.+)$",
        _add,
    ),
    # --- update: "change task 1 to X", "set the description of task 2 to Y" ---
    _intent(
        "update",
        rf"^{_UPDATE_VERB}\s+(?P<ref>'[^']+'|\"[^\"]+\"|.+?)"
        r"(?:\s+(?:to|into|as)\s+(?:(?:say|read|be)\s+)?|\s*[:=]\s*)(?P<value>.+)$",
        _update,
    ),
    _intent(
        "update_without_value",
        r"^(?:change|rename|update|edit|modify|retitle|reword)\b.*$",
        _ask_new_title,
    ),
    # --- listing by a noun alone ("tasks", "completed tasks"): before "complete …" ---
    _intent(
        "list_bare",
        r"^(?:(?:all|my|the|your|current)\s+)*"
        r"(?:(?:pending|open|remaining|outstanding|unfinished|incomplete|completed|complete|"
        r"done|finished|active)\s+)?"
        r"(?:tasks?|to-?dos?|(?:to-?do\s+|task\s+)?list|items)$"
        r"|^(?:pending|completed|remaining|outstanding|unfinished|incomplete)$"
        r"|^(?:show|list|display|view|see)(?:\s+me)?(?:\s+(?:all|everything))?$",
        _list,
    ),
    # --- complete ---
    _intent(
        "mark",
        rf"^mark\s+(?:off\s+)?(?P<ref>.+?)(?:\s+(?:as\s+)?(?P<state>{_REOPEN_STATE}|"
        rf"{_DONE_STATE}))?$",
        _mark,
    ),
    _intent(
        "done_with",
        r"^(?:i'm\s+|i\s+am\s+|im\s+)?(?:all\s+)?(?:done|finished|through)\s+with\s+(?P<ref>.+)$",
        _complete,
    ),
    _intent("complete", r"^(?:complete|finish|close)\b\s*(?P<ref>.*)$", _complete),
    _intent("check_off", r"^(?:check|tick|cross|strike)\s+off\s+(?P<ref>.+)$", _complete),
    _intent("check_x_off", r"^(?:check|tick|cross|strike)\s+(?P<ref>.+?)\s+off\b.*$", _complete),
    _intent(
        "i_finished",
        r"^(?:i(?:'ve|\s+have)?\s+)?(?:just\s+|already\s+|finally\s+|now\s+)?"
        r"(?:finished|completed|did|done)\s+(?P<ref>.+)$",
        _complete,
    ),
    # "I'm done" / "Done!" alone: which task?
    _intent(
        "done_alone",
        r"^(?:i'm\s+|i\s+am\s+|im\s+)?(?:all\s+)?(?:done|finished|complete)(?P<ref>)$",
        _complete,
    ),
    # --- delete ---
    _intent("delete", rf"^{_DELETE_VERB}\b\s*(?P<ref>.*)$", _delete),
    _intent("take_off", r"^take\s+(?P<ref>.+?)\s+off\b.*$", _delete),
    # --- listing: a question or a show verb, about tasks or a status ---
    _intent(
        "list",
        r"^(?=.*\b(?:what(?:'s|s)?|which|show|list|display|view|see|how\s+many|any(?:thing)?|"
        r"give\s+me|tell\s+me|read|know|do\s+i\s+have)\b)"
        rf"(?=.*(?:\b{_LIST_NOUN}\b|{_PENDING_WORDS.pattern}|{_COMPLETED_WORDS.pattern})).*$",
        _list,
    ),
    # Last of all, the loose "<task> is done": questions ("is the laundry done?") are excluded.
    _intent(
        "is_done",
        r"^(?!(?:is|are|was|were|did|do|does|have|has|what|which|who|how|when|why|where|can|"
        r"could|should|would|will)\b)(?P<ref>.+?)\s+(?:is\s+|are\s+|'s\s+|has\s+been\s+|"
        r"have\s+been\s+)?(?:now\s+|all\s+|finally\s+)?(?:done|complete|completed|finished)$",
        _complete,
    ),
)


def _prepare(message: str) -> tuple[str, bool]:
    """The message with quotes and spaces normalised and polite padding removed; and whether
    it opened with a greeting."""
    text = " ".join(message.translate(_QUOTE_CHARS).split())
    greeted = _GREETING.match(text) is not None
    previous = None
    while previous != text:  # "Hi, please … thanks!": a closer may hide another; rarely 3 rounds
        previous = text
        text = text.rstrip(_CLOSING_PUNCTUATION)
        text = _POLITE_CLOSER.sub("", text, count=1)
        text = _POLITE_OPENER.sub("", text, count=1)
    return text, greeted


def _help(message: str, text: str, greeted: bool) -> str:
    if not text and _THANKED.search(message):  # "OK, thanks!" is all closers
        return _THANKS_REPLY
    if greeted:
        return "Hi! 👋 " + _HELP
    if not text:
        return "How can I help? " + _HELP
    return "Sorry, that's outside what I can do. " + _HELP


class RulesAgent:
    """Understands everyday task requests by pattern; deterministic and offline."""

    def run(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: ToolRunner,
        *,
        on_delta: Callable[[str], None] | None = None,  # unused: the reply is ready at once
    ) -> str:
        """Answer `message`, acting only through `tools`; anything unknown gets help, no tool."""
        text, greeted = _prepare(message)
        turn = _Turn(tools=tools, history=history)
        if text:
            for intent in INTENTS:
                match = intent.pattern.match(text)
                if match:
                    return intent.handler(match, turn)
        return _help(message, text, greeted)
