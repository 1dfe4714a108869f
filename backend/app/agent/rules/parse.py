"""From what was typed to what was meant: normalising a message, titles, and lists of items.

`prepare` turns a message into the plain command the intent table reads: curly quotes and
spaces normalised, smileys and polite padding ("could you please", "…, thanks!") dropped,
misspelt command words repaired ("shwo" → "show"), and a trailing "put that down" / "tick it
off" folded into the command it stands for ("get a haircut, put that down" → "add get a
haircut").

`titles_from` turns the text after "add …" into one or several task titles: quoted titles as
typed, "X and Y" / "X, Y, Z" split when each part reads as a task of its own, the lead-in a
person says before a title ("I need to", "gotta") and the list decoration ("to my list")
removed. Each title then passes through `TITLE_EXTRACTORS`, which read due dates, repetitions,
priorities and tags out of it ("call mom tomorrow #family") as `add_task` arguments (dates.py).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.app.agent.rules.dates import extract_all
from backend.app.agent.rules.lexicon import LIST_PHRASE, NOUN
from backend.app.agent.rules.words import corrected, is_verb_base, words

_QUOTE_CHARS = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "`": "'"}
)
_FULLY_QUOTED = re.compile(r"'(?P<single>.*)'|\"(?P<double>.*)\"")
_QUOTED = re.compile(r"'(?P<single>[^']+)'|\"(?P<double>[^\"]+)\"")
# Typed smileys carry mood, not meaning: ":)" is dropped. An emoji may be part of a title
# ("Buy coffee ☕"), so it stays.
_SMILEYS = re.compile(r"(?<!\S)(?:[:;=]-?[()DPp/|]+|<3|xd)(?!\S)", re.IGNORECASE)
GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|yo|greetings|good\s+(?:morning|afternoon|evening))\b",
    re.IGNORECASE,
)
# Openers that add politeness but no meaning: a whole run of them is stripped from the front.
_POLITE_OPENER = re.compile(
    r"^(?:(?:"
    r"(?:hi|hello|hey|hiya|howdy|yo|greetings|good\s+(?:morning|afternoon|evening))"
    r"(?:\s+there)?"
    r"|ok(?:ay)?|alright|so|um+|uh+|erm?|hmm+|oh|ah|actually|wait|please|pleas|pls|plz|kindly"
    r"|yeah|yep|yes|no|nah|nope|right|well|anyway|just|also|and|then|now|btw|by\s+the\s+way"
    r"|great|cool|nice|perfect|awesome|good|lovely|sweet|cheers"
    r"|(?:thanks|thank\s+you)(?:\s+(?:so\s+much|a\s+lot|again))?"
    r"|i\s+think|i\s+guess|i\s+suppose|i\s+mean|basically|maybe|honestly|seriously"
    r"|(?:could|can|would|will)\s+(?:you|u)(?:\s+(?:please|pls|plz|just|also))*"
    r"|would\s+you\s+mind|(?:i'd|i\s+would)\s+like\s+you\s+to|i\s+want\s+you\s+to"
    r"|go\s+ahead\s+and"
    # "I want to / let me / can I" only before a command verb: "I want to buy milk" stays.
    r"|(?:i\s+want\s+to|i\s+wanna|(?:i'd|i\s+would)\s+like\s+to|let\s+me|let's|(?:can|could|may)"
    r"\s+i)(?=\s+(?:add|create|make|see|view|show|list|delete|remove|cancel|mark|complete|"
    r"finish|check|tick|cross|rename|change|update|edit|set|know)\b)"
    # "I need to add…" is a command; "I need to cancel the dentist" stays a task to add.
    r"|i\s+(?:need|have)\s+to(?=\s+(?:add|create|see|view|show|list)\b)"
    r")\b[\s,!.:;-]*)+",
    re.IGNORECASE,
)
# Closers that add nothing: "…, please", "… thanks!", "… i guess". The lookbehind starts the
# match only at the beginning of a run of separators, so a long run of commas costs linear time.
_POLITE_CLOSER = re.compile(
    r"(?<![\s,.!])[\s,.!]+(?:please|pls|plz|thanks|thank\s+you|thx|ty|cheers|for\s+me"
    r"|(?:thanks|thank\s+you)\s+(?:so\s+much|a\s+lot|again)|i\s+guess|i\s+think|i\s+suppose"
    r"|too|as\s+well|also"
    r"|if\s+you\s+can|if\s+possible)$",
    re.IGNORECASE,
)
_CLOSING_PUNCTUATION = " .!?\u2026,;"

# "…, put that down": the pronoun is the rest of the message. The first group adds it, the
# second completes it; both only after a comma or a full stop, never inside a title.
_ADD_IT = re.compile(
    r"^(?P<content>.+?)[,.;!]\s*(?:(?:can|could|would|will)\s+(?:you|u)\s+|please\s+|and\s+)?"
    r"(?:put|write|jot|note|add|save|stick)\s+(?:that|it|this)(?:\s+(?:down|in|on\s+(?:the|my)"
    r"\s+list|to\s+(?:the|my)\s+list))?(?:\s+(?:for\s+me|please))?$",
    re.IGNORECASE,
)
_DONE_IT = re.compile(
    r"^(?P<content>.+?)[,.;!]\s*(?:(?:can|could|would|will)\s+(?:you|u)\s+|please\s+|so\s+|and\s+)?"
    r"(?:(?:tick|cross|check|strike)\s+(?:that|it|this)\s+off|mark\s+(?:that|it|this)\s+"
    r"(?:as\s+)?(?:done|complete|completed|finished))(?:\s+(?:for\s+me|please))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Prepared:
    text: str  # the command to read, typos in command words repaired
    typed: str  # the same, with the words as typed (titles are taken from it when it reads alike)
    greeted: bool  # it opened with "hi"/"hello"


def normalise(message: str) -> str:
    """Straight quotes, single spaces, no smileys."""
    return " ".join(_SMILEYS.sub("", message.translate(_QUOTE_CHARS)).split())


def _strip_padding(text: str) -> str:
    previous = None
    while previous != text:  # "Hi, please … thanks!": a closer may hide another
        previous = text
        text = text.rstrip(_CLOSING_PUNCTUATION)
        text = _POLITE_CLOSER.sub("", text, count=1)
        text = _POLITE_OPENER.sub("", text, count=1)
    return text


_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|[A-Za-z][A-Za-z']*")


def _repair_typos(text: str) -> str:
    """Misspelt command words repaired, outside quotes: the first word (or the one after "I")
    may become a command verb ("delet" → "delete"), any other only a word such as "task" or
    "pending" — so a name in a title ("call Marc") is never turned into a command."""
    seen: list[str] = []

    def repair(match: re.Match[str]) -> str:
        token = match.group(0)
        lead = not seen or seen == ["i"]
        seen.append(token.casefold())
        if token[0] in "'\"":
            return token
        better = corrected(token.casefold(), verb_position=lead)
        return token if better == token.casefold() else better

    return _TOKEN.sub(repair, text)


def _fold_pronoun_clause(text: str) -> str:
    if match := _ADD_IT.match(text):
        return "add " + _strip_padding(match["content"])
    if match := _DONE_IT.match(text):
        return "complete " + _strip_padding(match["content"])
    return text


def prepare(message: str) -> Prepared:
    text = normalise(message)
    greeted = GREETING.match(text) is not None
    typed = _strip_padding(text)
    return Prepared(
        _fold_pronoun_clause(_repair_typos(typed)), _fold_pronoun_clause(typed), greeted
    )


# ---------------------------------------------------------------------------------------------
# Titles
# ---------------------------------------------------------------------------------------------

# What people say before the task itself: "I need to", "gotta", "I should really".
SUBJECT_LEAD = (
    r"(?:(?:i\s+)?(?:need|have|want|must|should|got)\s+(?:to\s+)?remember\s+to"
    r"|remind\s+me\s+(?:to|about)|remember\s+to"
    r"|(?:don't|do\s+not|dont)\s+(?:let\s+me\s+)?forget\s+(?:to|about)"
    r"|i(?:\s+(?:really\s+)?(?:need|have|got|have\s+got|ought)|'ve\s+got|ve\s+got)\s+to"
    r"|i\s+(?:must|should|gotta)|gotta|i(?:'ll|\s+will)\s+(?:have|need)\s+to"
    r"|(?:i\s+)?(?:still\s+)?(?:need|have)\s+to"
    r")(?:\s+(?:really|definitely|also|still))?"
)
_SUBJECT_LEAD_RE = re.compile(rf"^{SUBJECT_LEAD}\s+", re.IGNORECASE)
_TRAILING_LIST_PHRASE = re.compile(rf"\s+{LIST_PHRASE}$|\s+off$", re.IGNORECASE)
_LEADING_LIST_PHRASE = re.compile(rf"^{LIST_PHRASE}\s*[:\-]?\s*", re.IGNORECASE)
_PLACEHOLDER = re.compile(rf"(?:(?:a|an|new|the|{NOUN})\b\s*)+", re.IGNORECASE)
_PRONOUN = re.compile(r"(?:it|that|this|them|those|these)(?:\s+(?:one|down))?", re.IGNORECASE)
_ADD_DESCRIPTION = re.compile(
    r"^(?P<title>.+?)\s+with\s+(?:a\s+|the\s+)?description\s*[:\-]?\s*(?P<description>.+)$",
    re.IGNORECASE,
)
_AND = re.compile(r"\s*(?:,\s*(?:and\s+|&\s+)?|\s+and\s+|\s+&\s+)", re.IGNORECASE)

# Read details out of a title: each takes the title and returns it without the words it used,
# plus the add_task arguments those words gave (e.g. {"due_at": …}), read at `now` (aware, in
# the user's zone). Run in order.
TitleExtractor = Callable[[str, datetime], tuple[str, dict[str, Any]]]
TITLE_EXTRACTORS: list[TitleExtractor] = [extract_all]


@dataclass
class NewTask:
    title: str
    arguments: dict[str, Any] = field(default_factory=dict)  # beyond the title


def unquote(text: str) -> tuple[str, bool]:
    """The text inside matching quotes, if the whole text is quoted."""
    match = _FULLY_QUOTED.fullmatch(text.strip())
    if match:
        return (match["single"] or match["double"] or "").strip(), True
    return text.strip(), False


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def title_from(text: str) -> str:
    """A title from free text: lead-in and list decoration dropped; as typed if quoted, else
    capitalised."""
    text = _LEADING_LIST_PHRASE.sub("", text.strip())
    text = _TRAILING_LIST_PHRASE.sub("", text).strip()
    inner, quoted = unquote(text)
    if quoted:
        return inner
    inner = _SUBJECT_LEAD_RE.sub("", inner)
    return capitalise(inner.strip(" ,;:-.!?"))


def is_placeholder(title: str) -> bool:
    # "Add a task" names no task: only articles and task nouns are left; "add it" with nothing
    # before it neither.
    return (
        not title
        or _PLACEHOLDER.fullmatch(title) is not None
        or _PRONOUN.fullmatch(title) is not None
    )


def _reads_as_a_task(part: str) -> bool:
    """'pick up the kids', 'to send the rent': a verb first and something to do it to."""
    found = words(re.sub(r"^to\s+", "", part.strip(), flags=re.IGNORECASE))
    return len(found) >= 2 and is_verb_base(found[0])


def split_items(text: str) -> list[str]:
    """'a, b and c' → [a, b, c] when it is a list of separate things, else [text]:
    several quoted items; parts split by ';'; parts that each read as a task of their own
    ("pick up the kids and feed the dog"); or three or more short items ("milk, eggs, bread",
    "eggs and flour and sugar").
    "milk and eggs" and "call mom and dad" stay one: two things without a verb may be one."""
    quoted = list(_QUOTED.finditer(text))
    if len(quoted) >= 2:
        between = _QUOTED.sub("", text)
        if re.fullmatch(r"[\s,;&]*(?:(?:and|&)[\s,;]*)*", between, re.IGNORECASE):
            return [m.group(0) for m in quoted]
    if ";" in text:
        return [p.strip() for p in text.split(";") if p.strip()]
    if _QUOTED.search(text):
        return [text]
    parts = [p for p in _AND.split(text) if p.strip()]
    if len(parts) < 2:
        return [text]
    if all(_reads_as_a_task(p) for p in parts):
        return parts
    if len(parts) >= 3 and all(len(words(p)) <= 3 for p in parts):
        return parts
    return [text]


def details(title: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """A title without its due date, repetition, priority and tags, and those as arguments."""
    arguments: dict[str, Any] = {}
    for extract in TITLE_EXTRACTORS:
        title, found = extract(title, now)
        arguments.update(found)
    return title, arguments


def _with_details_joined(items: list[str], now: datetime) -> list[str]:
    """'plan the trip, high priority, #travel' is one task with details, not three tasks."""
    joined: list[str] = []
    for item in items:
        only_details = details("x " + item, now)[0] == "X"
        if joined and only_details:
            joined[-1] += " " + item
        else:
            joined.append(item)
    return joined


def new_tasks(text: str, now: datetime) -> tuple[list[NewTask], str | None]:
    """The tasks the text after "add" names, and a description when one was given."""
    description = None
    if extra := _ADD_DESCRIPTION.fullmatch(text):
        text, description = extra["title"], unquote(extra["description"])[0]
    text = _TRAILING_LIST_PHRASE.sub("", text.strip())
    tasks = []
    for item in _with_details_joined(split_items(text), now):
        title = title_from(re.sub(r"^to\s+(?=\w)", "", item.strip(), flags=re.IGNORECASE))
        if not unquote(item)[1]:  # a quoted title is kept as typed
            title, arguments = details(title, now)
            tasks.append(NewTask(title, arguments))
        else:
            tasks.append(NewTask(title))
    return tasks, description
