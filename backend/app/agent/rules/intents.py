"""The table of intents: patterns over the prepared message, tried in order, first match wins.

Order is the whole trick. Intents anchored on a leading verb ("add …", "change … to …",
"delete …") come before the loose ones ("… is done", "what … pending", "bought the milk"), so
the first verb of the message decides: "Add a task to delete old files" adds, "Delete task 3"
deletes, "Change task 1 to X" renames. A refusal ("don't delete it", "I haven't called mom
yet") is caught before any loose intent could read it as a change.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from backend.app.agent.rules import actions, replies
from backend.app.agent.rules.dates import PRIORITY_ONLY, WHEN_ONLY
from backend.app.agent.rules.lexicon import (
    COMPLETED_WORDS,
    CONNECTOR,
    DELETE_VERB,
    DONE_STATE,
    DONE_STATE_RE,
    LIST_NOUN,
    LIST_PHRASE,
    NOUN,
    ORDINALS,
    PENDING_WORDS,
    REFUSAL,
    REOPEN_STATE,
    REOPEN_STATE_RE,
    UPDATE_VERB,
)
from backend.app.agent.rules.parse import (
    SUBJECT_LEAD,
    details,
    is_placeholder,
    new_tasks,
    title_from,
    unquote,
)
from backend.app.agent.rules.resolve import Turn
from backend.app.agent.rules.words import content_words, is_known, past_tense_lemma, words

Match = re.Match[str]
Handler = Callable[[Match, Turn], str]

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


@dataclass(frozen=True)
class Intent:
    """One row of the table: a pattern over the prepared message and what to do on a match.
    `accepts`, when given, looks closer at a match the pattern alone cannot judge; `asked`,
    when given, is whether the row is only for questions (True) or never for them (False)."""

    name: str
    pattern: re.Pattern[str]
    handler: Handler
    accepts: Callable[[Match], bool] | None = None
    asked: bool | None = None


def _intent(
    name: str,
    pattern: str,
    handler: Handler,
    accepts: Callable[[Match], bool] | None = None,
    asked: bool | None = None,
) -> Intent:
    return Intent(name, re.compile(pattern, re.IGNORECASE), handler, accepts, asked)


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def _answer_pending_question(match: Match, turn: Turn) -> str:
    # "2" or "the first one" right after "Which one should I delete?" finishes that request.
    ref = match["id"] or match["ordinal"]
    last_reply = next((m.content for m in reversed(turn.history) if m.role == "assistant"), "")
    question = _PENDING_QUESTION.search(last_reply)
    if question is None:
        return replies.what_to_do_with(f"task {ref}" if match["id"] else ref)
    if question["verb"] == "delete":
        return actions.delete(turn, ref)
    if question["verb"] == "mark as complete":
        return actions.complete(turn, ref)
    return actions.retitle(turn, ref, question["title"])


def _reply(text: str) -> Handler:
    return lambda match, turn: text


def _add(match: Match, turn: Turn) -> str:
    tasks, description = new_tasks(match["title"], turn.now)
    if not tasks or any(is_placeholder(t.title) for t in tasks):
        return replies.ASK_TITLE
    return actions.add(turn, tasks, description)


def _update(match: Match, turn: Turn) -> str:
    ref, (value, quoted) = match["ref"], unquote(match["value"])
    if not quoted and DONE_STATE_RE.fullmatch(value):  # "set task 3 to done"
        return actions.complete(turn, ref)
    if not quoted and REOPEN_STATE_RE.fullmatch(value):
        return replies.CANNOT_REOPEN
    field = "title"
    if not unquote(ref)[1]:  # a quoted reference is a title, never "the title of …"
        if found := _FIELD_BEFORE.fullmatch(ref) or _FIELD_AFTER.fullmatch(ref.strip()):
            field, ref = found["field"].casefold(), found["ref"]
    if field in _DESCRIPTION_FIELDS:
        return actions.describe(turn, ref, value)
    new_title = value if quoted else title_from(value)
    if not new_title:
        return replies.ASK_NEW_TITLE
    return actions.retitle(turn, ref, new_title)


def _change_details(match: Match, turn: Turn) -> str:
    # "move task 3 to friday at 3pm", "make the report urgent": read as a title's details are.
    found = details("x " + match["value"], turn.now)[1]
    return actions.change_details(turn, match["ref"], found)


def _add_description(match: Match, turn: Turn) -> str:
    return actions.describe(turn, match["ref"], unquote(match["value"])[0])


def _mark(match: Match, turn: Turn) -> str:
    if REOPEN_STATE_RE.fullmatch(match["state"] or ""):
        return replies.CANNOT_REOPEN
    return actions.complete(turn, match["ref"])


def _complete(match: Match, turn: Turn) -> str:
    return actions.complete(turn, match["ref"])


def _complete_passive(match: Match, turn: Turn) -> str:
    # "the plants are watered": the verb is part of what names the task ("Water the plants").
    # "the garage is cleaned out" names "Clean out the garage".
    verb = f"{match['verb']} {match['particle']}" if match["particle"] else match["verb"]
    return actions.complete(turn, f"{verb} {match['ref']}")


def _delete(match: Match, turn: Turn) -> str:
    return actions.delete(turn, match["ref"])


def _list(match: Match, turn: Turn) -> str:
    text = match.string
    if PENDING_WORDS.search(text):  # first: "what haven't I done?" is pending
        status = "pending"
    elif COMPLETED_WORDS.search(text):
        status = "completed"
    else:
        status = "all"
    return actions.show(turn, status)


def _due_list(match: Match, turn: Turn) -> str:
    window = "overdue" if match["overdue"] else re.sub(r"\s+", " ", match["window"].casefold())
    return actions.show_due(turn, window)


def _is_past(match: Match) -> bool:
    # The verb alone ("I paid") names no task: something it was done to must follow.
    return past_tense_lemma(match["verb"].casefold()) is not None and bool(
        content_words(match["ref"])
    )


def _is_past_statement(match: Match) -> bool:
    # "bought the milk and called mom": the first word is a past form, and something follows.
    return _is_past(match) and len(words(match["ref"])) >= 2


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

_QUESTION_START = (
    r"(?:is|are|was|were|did|do|does|have|has|what|which|who|how|when|why|where|can|could|"
    r"should|would|will)"
)

_PASSIVE_AUXILIARY = r"(?:(?:\s+(?:is|are|was|were|got|has|have)|'s|'ve|'re)(?:\s+been)?)"
_PARTICIPLE = (
    r"(?:now\s+|all\s+|finally\s+|just\s+|already\s+)?(?P<verb>[a-z]+)"
    r"(?:\s+(?P<particle>out|up|off|away|down|back|in))?(?:\s+(?:too|now|already|today|yesterday))?"
)
# Who did something, in "my mom called", "tom reviewed it", "he paid": not a task done.
_PERSON = (
    r"(?:i|i've|ive|i'm|im|my|your|his|her|our|their|he|she|they|we|you|someone|somebody|mom|dad)"
)

INTENTS: tuple[Intent, ...] = (
    # A bare id only makes sense as the answer to "Which one should I …?".
    # …and so does "the first one".
    _intent(
        "answer",
        r"^(?:(?:task\s*)?(?:#|number\s*)?(?P<id>\d{1,18})"
        rf"|(?P<ordinal>(?:the\s+)?(?:{'|'.join(ORDINALS)})(?:\s+one)?))$",
        _answer_pending_question,
    ),
    _intent(
        "thanks",
        r"^(?:thanks|thank\s+you|thx|ty|cheers|great|awesome|perfect|cool|nice|got\s+it)"
        r"(?:\s+(?:so\s+much|a\s+lot|again))?$",
        _reply(replies.THANKS),
    ),
    _intent(
        "help",
        r"^(?:help(?:\s+me)?|what\s+(?:can|do)\s+you\s+do|how\s+does\s+(?:this|it)\s+work|"
        r"what\s+are\s+you|who\s+are\s+you|commands|options|menu)$",
        _reply(replies.HELP),
    ),
    # Before "add": "add a description to task 2: …" changes task 2, it adds nothing.
    _intent(
        "add_description",
        r"^(?:add|put|write)\s+(?:a\s+|the\s+)?(?:description|note|details|notes)\s+"
        r"(?:to|for|on)\s+(?P<ref>.+?)\s*(?::|\s-\s|\s+saying\b|\s+that\s+says\b)\s*(?P<value>.+)$",
        _add_description,
    ),
    # "make task 2 urgent" changes task 2; "make a task to …" (below) adds one.
    _intent(
        "set_details_by_id",
        r"^(?:make|mark|set|flag)\s+(?P<ref>(?:task\s*)?#?\d{1,18})\s+(?:(?:to|as)\s+)?(?:be\s+)?"
        rf"(?P<value>{PRIORITY_ONLY}|due\s+{WHEN_ONLY})$",
        _change_details,
    ),
    # --- add: first, so "Add a task to delete old files" is an add ---
    _intent(
        "add",
        rf"^add\b\s*(?:(?:a|an|one|another|some)\s+)?(?:new\s+)?(?:{NOUN}\b)?\s*{CONNECTOR}?"
        r"\s*(?P<title>.*)$",
        _add,
    ),
    _intent(
        "create",
        rf"^(?:create|make|jot\s+down|note\s+down|write\s+down)\s+(?:(?:a|an|one|another)\s+)?"
        rf"(?:new\s+)?(?:{NOUN}|note)\b\s*{CONNECTOR}?\s*(?P<title>.*)$",
        _add,
    ),
    _intent(
        "set_reminder",
        rf"^set\s+(?:up\s+)?(?:a|an)\s+(?:new\s+)?{NOUN}\s+(?:to|for)\b\s*(?P<title>.*)$",
        _add,
    ),
    _intent("new", rf"^new\s+{NOUN}\b\s*{CONNECTOR}?\s*(?P<title>.*)$", _add),
    _intent("labelled", rf"^(?:{NOUN}|note|remember)\s*[:\-]\s*(?P<title>.+)$", _add),
    _intent(
        "put_on_list",
        rf"^(?:put|stick|pop|write|jot|throw)\s+(?P<title>.+?)\s+{LIST_PHRASE}$",
        _add,
    ),
    _intent("jot", r"^(?:jot|note|write)\s+(?:it\s+|this\s+)?down\s*:?\s+(?P<title>.+)$", _add),
    # "what's due today?", "anything overdue?", "overdue tasks": a listing by due date.
    _intent(
        "due_list",
        r"^(?:(?:what|which|show|list|tell|give|any|anything|do\s+i\s+have|is|are|my|the|all)\b"
        r"[\w\s']*?\s)?(?:(?:tasks?|to-?dos?|items|things|stuff)\s+(?:that\s+(?:are|is)\s+)?)?"
        r"(?:(?:is|are|i\s+have)\s+)?(?:(?P<overdue>overdue|past\s+due|late)"
        r"|due\s+(?P<window>today|tomorrow|this\s+week|next\s+week))"
        r"(?:\s+(?:tasks?|to-?dos?|items|for\s+me))?$",
        _due_list,
    ),
    # "tasks I haven't done", "stuff that's left": a listing asked for with a noun phrase.
    _intent(
        "list_phrase",
        r"^(?:(?:all|my|the)\s+)*(?:tasks|to-?dos|items|things|stuff|ones)\s+(?:that\s+|which\s+)?"
        r"(?:i|i've|ive|i'm|im|we|are|is|still|that's|thats|left|remaining)\b.*$",
        _list,
    ),
    # "don't delete it", "I haven't called mom yet", "never mind": nothing changes. Questions
    # ("what haven't I done?") go on to the listing below.
    _intent(
        "refusal",
        rf"^(?!{_QUESTION_START}\b|show\b|list\b|any(?:thing)?\b|tell\b|give\b).*$",
        _reply(replies.LEFT_AS_IS),
        accepts=lambda match: REFUSAL.match(match.string) is not None,
        asked=False,
    ),
    _intent("remember", rf"^(?P<title>{SUBJECT_LEAD}\s+.+)$", _add),
    # --- details: "move task 3 to friday", "reschedule the dentist for tomorrow at 4pm",
    # "make task 2 urgent", "mark the report as high priority" ---
    _intent(
        "reschedule",
        r"^(?:move|reschedule|postpone|push(?:\s+back)?|defer|snooze)\s+(?P<ref>.+?)\s+"
        rf"(?:(?:to|till|until|for)\s+)?(?P<value>{WHEN_ONLY})$",
        _change_details,
    ),
    _intent(
        "set_details",
        r"^(?:make|mark|set|flag)\s+(?P<ref>.+?)\s+(?:(?:to|as)\s+)?(?:be\s+)?"
        rf"(?P<value>{PRIORITY_ONLY}|due\s+{WHEN_ONLY})$",
        _change_details,
    ),
    # --- update: "change task 1 to X", "set the description of task 2 to Y" ---
    _intent(
        "update",
        rf"^{UPDATE_VERB}\s+(?P<ref>'[^']+'|\"[^\"]+\"|.+?)"
        r"(?:\s+(?:to|into|as)\s+(?:(?:say|read|be)\s+)?|\s*[:=])\s*(?P<value>.+)$",
        _update,
    ),
    _intent(
        "update_without_value",
        r"^(?:change|rename|update|edit|modify|retitle|reword)\b.*$",
        _reply(replies.ASK_NEW_TITLE),
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
        rf"^mark\s+(?:off\s+)?(?P<ref>.+?)(?:\s+(?:as\s+)?(?P<state>{REOPEN_STATE}|"
        rf"{DONE_STATE}))?$",
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
        r"^(?:i(?:'ve|ve|\s+have)?\s+)?(?:just\s+|already\s+|finally\s+|now\s+)?"
        r"(?:finished|completed|did|done)\s+(?!(?:i|you|we|he|she|they)\b)(?P<ref>.+)$",
        _complete,
        asked=False,
    ),
    # "I'm done" / "Done!" alone: which task?
    _intent(
        "done_alone",
        r"^(?:i'm\s+|i\s+am\s+|im\s+)?(?:all\s+)?(?:done|finished|complete)(?P<ref>)$",
        _complete,
    ),
    # --- delete ---
    _intent("delete", rf"^{DELETE_VERB}\b\s*(?P<ref>.*)$", _delete),
    _intent("take_off", r"^take\s+(?P<ref>.+?)\s+off\b.*$", _delete),
    # --- listing: a question or a show verb, about tasks or a status ---
    _intent(
        "list",
        r"^(?=.*\b(?:what(?:'s|s)?|which|show|list|display|view|see|how\s+many|any(?:thing)?|"
        r"give\s+me|tell\s+me|read|know|do\s+i\s+have)\b)"
        rf"(?=.*(?:\b{LIST_NOUN}\b|{PENDING_WORDS.pattern}|{COMPLETED_WORDS.pattern})).*$",
        _list,
    ),
    # "stuff i haven't finished?": a question about tasks or a status, without a question word;
    # not "is the milk done?", which asks about one task.
    _intent(
        "list_asked",
        r"^(?!(?:is|are|was|were|did|does|has|have)\b)"
        rf"(?=.*(?:\b{LIST_NOUN}\b|{PENDING_WORDS.pattern}|{COMPLETED_WORDS.pattern})).*$",
        _list,
        asked=True,
    ),
    # The loose statements from here on never act on a question ("did I pay the bill?",
    # "laundry done?"): a question changes nothing.
    # "I bought the milk", "just emailed sarah": a past form first states a task done.
    _intent(
        "past_statement",
        r"^(?:i\s+|i've\s+|ive\s+|i\s+have\s+|we\s+|we've\s+)?"
        r"(?:just\s+|already\s+|finally\s+|now\s+|also\s+)*(?P<ref>(?P<verb>[a-z]+)\b.*)$",
        _complete,
        accepts=_is_past_statement,
        asked=False,
    ),
    # "<task> is done"; "is the laundry done?" is a question, excluded.
    _intent(
        "is_done",
        rf"^(?!{_QUESTION_START}\b)(?P<ref>.+?)(?:'s|'re|\s+(?:is|are|was|were|got|has\s+been|"
        r"have\s+been))?\s+(?:now\s+|all\s+|finally\s+)?(?:done|complete|completed|finished)"
        r"(?:\s+(?:too|now|already))?$",
        _complete,
        asked=False,
    ),
    # "the plants are watered", "mom's been called": a passive states the task done.
    _intent(
        "is_past",
        rf"^(?!{_QUESTION_START}\b)(?P<ref>.+?){_PASSIVE_AUXILIARY}\s+{_PARTICIPLE}$",
        _complete_passive,
        accepts=_is_past,
        asked=False,
    ),
    # "expense report submitted", with no auxiliary — but not "my mom called", "he paid" or
    # "Sarah emailed": someone's doing, not a task's (a word no dictionary knows is a name).
    _intent(
        "is_past_short",
        rf"^(?!{_QUESTION_START}\b|{_PERSON}\b)(?P<ref>.+?)\s+{_PARTICIPLE}$",
        _complete_passive,
        accepts=lambda match: _is_past(match) and is_known(words(match["ref"])[0]),
        asked=False,
    ),
)

# Questions about what the agent can do: answered with help, never acted on. Read before the
# polite openers are stripped, since "can you add tasks?" would otherwise become "add tasks".
_GENERIC_OBJECT = (
    r"(?:(?:a|an|the|my|your|some|several|multiple|many|more|old|new)\s+)*"
    r"(?:tasks?|tasks'|task's|to-?dos?|items?|things?|something|stuff|reminders?|lists?|"
    r"(?:more\s+than\s+)?one)"
    r"(?:\s+(?:name|title|names|titles|at\s+once|permanently|for\s+me|too|as\s+well|as\s+done|"
    r"as\s+complete|done|by\s+(?:name|number|title)|in\s+bulk))*"
)
QUESTION = re.compile(
    r"^(?:how\s+(?:do|can|could|would|should|does|will|to)\b"
    r"|(?:where|why)\s+(?:do|does|did|is|are|would|will)\s+(?:you|u|it|this|my)\b"
    r"|is\s+(?:it|there)\s+(?:possible|a\s+way|an\s+option)\b"
    r"|what\s+happens\s+(?:if|when)\b|what\s+does\b.+\bdo\b"
    r"|what\s+(?:commands|else\s+can\s+you|can\s+you|can\s+i|do\s+you\s+understand)\b"
    r"|what\b.*\bcan\s+(?:you|u|i)\s+(?:do|help|ask)\b"
    r"|(?:do|can)\s+you\s+(?:support|understand|know|handle|do)\b"
    r"|(?:could|can|would)\s+you\s+explain\b|explain\b"
    r"|(?:(?:could|can|would)\s+you\s+)?(?:tell|show|teach)\s+me\s+how\b"
    r"|(?:(?:can|could|will|do|does|would)\s+(?:you|u|i|it|this|we)|(?:are\s+you|am\s+i)\s+able"
    r"\s+to)\s+(?:also\s+)?"
    r"(?:add|create|make|remind\s+me(?:\s+(?:of|about))?|remember|list|show|see|view|delete|remove|"
    r"cancel|complete|finish|mark|check\s+off|tick\s+off|rename|change|update|edit|undo|restore)"
    rf"\s+{_GENERIC_OBJECT}\s*\??$"
    r")",
    re.IGNORECASE,
)


def match_intent(text: str, asked: bool) -> tuple[Intent, Match] | None:
    """The first row that reads `text`; `asked`: the message ended with a question mark."""
    for intent in INTENTS:
        if intent.asked is not None and intent.asked != asked:
            continue
        match = intent.pattern.match(text)
        if match and (intent.accepts is None or intent.accepts(match)):
            return intent, match
    return None
