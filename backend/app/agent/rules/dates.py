"""Due dates, repetitions, priorities and tags read out of a title, in the user's time zone.

Each extractor takes a title and the turn's `now` (aware, in the user's zone) and returns the
title without the words it used, plus the `add_task` arguments they gave. Only a closed set of
shapes counts as a date ("tomorrow", "next friday", "at 3pm", "on the 5th", "in 2 hours",
"dec 24"), and only at the end of a title (or before a colon at its start), so an ordinary title
keeps its words: "Call May", "Read 1984", "Buy 2 apples", "Watch Friday Night Lights". What a
phrase means is computed by `dateparser`, with its settings fixed (English, future dates, the
user's zone, `now` as the base); repetitions become RFC 5545 RRULEs whose first occurrence
`dateutil.rrule` finds.
"""

import calendar
import re
from datetime import date, datetime, time, timedelta
from typing import Any

import dateparser
from dateutil import rrule

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
)
_NTH = r"\d{1,2}(?:st|nd|rd|th)?"
_MONTH_DATE = (
    rf"(?:{_MONTH}\s+{_NTH}(?:,?\s+\d{{4}})?|{_NTH}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    r"|\d{4}-\d{2}-\d{2})"
)
_DAY_OF_MONTH = r"the\s+\d{1,2}(?:st|nd|rd|th)"
_DAY = (
    r"(?:today|tonight|tomorrow|tmrw|(?:the\s+)?day\s+after\s+tomorrow"
    rf"|(?:next|this|coming)\s+{WEEKDAY}|{WEEKDAY}|next\s+(?:week|month|year)"
    rf"|{_MONTH_DATE}|{_DAY_OF_MONTH})"
)
TIME = r"(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|noon|midday|midnight)"
_COUNT = r"(?:\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_RELATIVE = rf"in\s+(?P<count>{_COUNT}|half\s+an)\s+(?P<unit>minute|min|hour|day|week|month)s?"
_PREPOSITION = r"(?:(?:due|deadline)\s+)?(?:(?:on|by|for|before|until|till|this)\s+)?"
_WHEN = (
    rf"(?:(?P<day>{_DAY})(?:\s*,?\s*(?:at\s+|@\s*)?(?P<time>{TIME}))?"
    rf"|(?:at\s+|@\s*)?(?P<time_first>{TIME})(?:\s+(?:on\s+)?(?P<day_after>{_DAY}))?"
    rf"|{_RELATIVE})"
)
_TRAILING_WHEN = re.compile(rf"[\s,;\-]+{_PREPOSITION}{_WHEN}$", re.IGNORECASE)
_LEADING_WHEN = re.compile(rf"^{_PREPOSITION}{_WHEN}\s*[:,\-]\s*", re.IGNORECASE)
_WORD_COUNTS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
}


def _settings(now: datetime) -> dict[str, Any]:
    return {
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": str(now.tzinfo),
        "TO_TIMEZONE": str(now.tzinfo),
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RELATIVE_BASE": now.replace(tzinfo=None),
    }


def parse_moment(text: str, now: datetime) -> datetime | None:
    """`text` ("tomorrow at 3pm", "friday") as an aware time in `now`'s zone, by dateparser."""
    text = re.sub(r"\btmrw\b", "tomorrow", text, flags=re.IGNORECASE)  # unknown to dateparser
    return dateparser.parse(text, languages=["en"], settings=_settings(now))


def _day_of_month(nth: int, now: datetime) -> date | None:
    """'the 5th': the next 5th from today on (this month's, or a later month that has one)."""
    year, month = now.year, now.month
    for _ in range(13):
        if nth <= calendar.monthrange(year, month)[1] and date(year, month, nth) >= now.date():
            return date(year, month, nth)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _clock_time(text: str, now: datetime) -> time | None:
    moment = parse_moment(text, now)
    return None if moment is None else moment.time().replace(second=0, microsecond=0)


def _due(match: re.Match[str], now: datetime) -> str | None:
    """The `due_at` argument a matched phrase means: ISO with offset when it has a time of day,
    a bare date (the end of that day) when it names only a day."""
    if count := match["count"]:
        amount = 0.5 if count.casefold() == "half an" else _WORD_COUNTS.get(count.casefold())
        unit = match["unit"].casefold()
        unit = "minute" if unit == "min" else unit
        moment = parse_moment(f"in {amount or count} {unit}s", now)
        if moment is None:
            return None
        return moment.isoformat() if unit in {"minute", "hour"} else moment.date().isoformat()
    day_text = match["day"] or match["day_after"]
    time_text = match["time"] or match["time_first"]
    day: date | None = None
    if day_text:
        if re.fullmatch(_DAY_OF_MONTH, day_text, re.IGNORECASE):
            day = _day_of_month(int(re.sub(r"\D", "", day_text)), now)
        else:
            moment = parse_moment(day_text, now)
            day = None if moment is None else moment.date()
            if day_text.casefold() == "tonight" and moment is not None and not time_text:
                return moment.replace(second=0, microsecond=0).isoformat()
        if day is None:
            return None
    if time_text is None:
        return day.isoformat() if day else None
    clock = _clock_time(time_text, now)
    if clock is None:
        return None
    if day is None:  # "at 3pm": today, or tomorrow once 3pm has passed
        day = now.date() if clock > now.time() else now.date() + timedelta(days=1)
    return datetime.combine(day, clock, now.tzinfo).isoformat()


def _without(title: str, match: re.Match[str]) -> str:
    return (title[: match.start()] + title[match.end() :]).strip(" ,;:-")


def extract_due(title: str, now: datetime) -> tuple[str, dict[str, Any]]:
    for pattern in (_TRAILING_WHEN, _LEADING_WHEN):
        match = pattern.search(title)
        if match and (rest := _without(title, match)):
            if (due := _due(match, now)) is not None:
                return rest, {"due_at": due}
    return title, {}


# -- repetitions -------------------------------------------------------------------------------

_BYDAY = {name: name[:2].upper() for name in _WEEKDAYS}
_WEEKDAY_LIST = rf"{WEEKDAY}s?(?:\s*(?:,|and|&)\s*{WEEKDAY}s?)*"
_EVERY = (
    r"(?:(?:every|each)\s+(?P<other>other\s+)?(?:(?P<n>\d{1,2})\s+)?"
    rf"(?P<unit>day|week|month|year|weekday|work\s*day|(?P<weekdays>{_WEEKDAY_LIST})|"
    r"morning|evening|night)s?"
    r"|(?P<adverb>daily|weekly|monthly|yearly|annually|fortnightly|nightly)"
    rf"|on\s+(?P<plural>{WEEKDAY})s)"
)
_REPEAT = re.compile(
    rf"[\s,;\-]+(?:(?:at\s+)?(?P<time_first>{TIME})\s+)?{_EVERY}"
    rf"(?:\s*,?\s*(?:at\s+|@\s*)(?P<time>{TIME}))?$",
    re.IGNORECASE,
)
_ADVERBS = {
    "daily": "FREQ=DAILY",
    "nightly": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "yearly": "FREQ=YEARLY",
    "annually": "FREQ=YEARLY",
    "fortnightly": "FREQ=WEEKLY;INTERVAL=2",
}
_UNITS = {
    "day": "DAILY",
    "morning": "DAILY",
    "evening": "DAILY",
    "night": "DAILY",
    "week": "WEEKLY",
    "month": "MONTHLY",
    "year": "YEARLY",
}


def _rule(match: re.Match[str]) -> str:
    if adverb := match["adverb"]:
        return _ADVERBS[adverb.casefold()]
    if plural := match["plural"]:
        return f"FREQ=WEEKLY;BYDAY={_BYDAY[plural.casefold()]}"
    interval = 2 if match["other"] else int(match["n"] or 1)
    every = f";INTERVAL={interval}" if interval > 1 else ""
    unit = re.sub(r"\s+", "", match["unit"].casefold())
    if unit in {"weekday", "workday"}:
        return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    if match["weekdays"]:
        days = re.findall(WEEKDAY, match["weekdays"], re.IGNORECASE)
        byday = ",".join(dict.fromkeys(_BYDAY[d.casefold()] for d in days))
        return f"FREQ=WEEKLY{every};BYDAY={byday}"
    return f"FREQ={_UNITS[unit.rstrip('s')]}{every}"


_PART_OF_DAY = {"morning": time(9), "evening": time(18), "night": time(21)}


def extract_repetition(title: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """ "every monday at 9am" → recurrence FREQ=WEEKLY;BYDAY=MO and due_at its first occurrence."""
    match = _REPEAT.search(title)
    if match is None or not (rest := _without(title, match)):
        return title, {}
    rule = _rule(match)
    time_text = match["time"] or match["time_first"]
    clock = _clock_time(time_text, now) if time_text else None
    unit = (match["unit"] or "").casefold()
    if clock is None and unit in _PART_OF_DAY:
        clock = _PART_OF_DAY[unit]
    local = now.replace(tzinfo=None)
    start = datetime.combine(local.date(), clock or time(0))
    first = rrule.rrulestr(rule, dtstart=start).after(local if clock else start, inc=True)
    if first is None:
        return title, {}
    due = first.replace(tzinfo=now.tzinfo).isoformat() if clock else first.date().isoformat()
    return rest, {"recurrence": rule, "due_at": due}


# -- priorities and tags -----------------------------------------------------------------------

_HIGH = (
    r"urgent(?:ly)?|asap|important|high(?:est)?[\s-]+priority|top[\s-]+priority"
    r"|priority\s*[:=]?\s*high|p1"
)
_LOW = r"low(?:est)?[\s-]+priority|priority\s*[:=]?\s*low|not\s+urgent|no\s+rush|p3|p4"
_NORMAL = r"normal[\s-]+priority|medium[\s-]+priority|priority\s*[:=]?\s*(?:normal|medium)|p2"
_PRIORITY = rf"(?:(?P<high>{_HIGH})|(?P<low>{_LOW})|(?P<normal>{_NORMAL}))"
_TRAILING_PRIORITY = re.compile(
    r"[\s,;\-(]+(?:(?:it's|it\s+is|this\s+is|that's|its|make\s+it|mark\s+it|as|with|at)\s+"
    rf"(?:an?\s+)?)?{_PRIORITY}(?:\s+(?:task|one))?\)?$",
    re.IGNORECASE,
)
_LEADING_PRIORITY = re.compile(
    rf"^(?:an?\s+)?{_PRIORITY}(?:\s*[:,\-!]\s*|\s+(?:task|to-?do|item|reminder)\s*(?:to|:|-)?\s+)",
    re.IGNORECASE,
)


def extract_priority(title: str, now: datetime) -> tuple[str, dict[str, Any]]:
    for pattern in (_TRAILING_PRIORITY, _LEADING_PRIORITY):
        match = pattern.search(title)
        if match and (rest := _without(title, match)):
            level = "high" if match["high"] else "low" if match["low"] else "normal"
            return rest[:1].upper() + rest[1:], {"priority": level}
    return title, {}


_HASHTAG = re.compile(r"(?<![\w&#])#(?P<tag>[A-Za-z][\w-]{0,31})\b")
_TAGGED = re.compile(
    r"[\s,;]+(?:tagged|tag|label(?:l?ed)?)\s+(?:as\s+|with\s+)?(?P<tag>[A-Za-z][\w-]{0,31})$",
    re.IGNORECASE,
)


def extract_tags(title: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """'#work' anywhere, or a trailing 'tagged work'."""
    tags = [m["tag"].casefold() for m in _HASHTAG.finditer(title)]
    rest = " ".join(_HASHTAG.sub("", title).split()).strip(" ,;:-")
    if match := _TAGGED.search(rest):
        tags.append(match["tag"].casefold())
        rest = _without(rest, match)
    if not tags or not rest:
        return title, {}
    return rest, {"tags": list(dict.fromkeys(tags))}


# Details alone, for changing a task ("to friday at 3pm", "every monday", "urgent"); the named
# groups of the parts are not needed there.
def _unnamed(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


WHEN_ONLY = _unnamed(rf"(?:{_PREPOSITION}{_WHEN}|{_EVERY}(?:\s*,?\s*(?:at\s+|@\s*){TIME})?)")
PRIORITY_ONLY = _unnamed(rf"(?:an?\s+)?{_PRIORITY}(?:\s+priority)?")


EXTRACTORS = (extract_tags, extract_priority, extract_repetition, extract_due)


def extract_all(title: str, now: datetime) -> tuple[str, dict[str, Any]]:
    """Every detail, in any order at the end of a title ("… tomorrow #work urgent")."""
    arguments: dict[str, Any] = {}
    previous = None
    while previous != title:
        previous = title
        for extract in EXTRACTORS:
            if extract is extract_due and "due_at" in arguments:
                continue
            if extract is extract_repetition and "recurrence" in arguments:
                continue
            title, found = extract(title, now)
            for key, value in found.items():
                if key == "tags":
                    value = list(dict.fromkeys([*arguments.get("tags", []), *value]))
                arguments.setdefault(key, value) if key == "due_at" else arguments.update(
                    {key: value}
                )
    return title[:1].upper() + title[1:], arguments
