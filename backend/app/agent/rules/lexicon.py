"""The vocabulary the patterns are built from: regex fragments and word sets, no logic."""

import re

# What a task may be called ("task", "to-do", "item", …).
NOUN = r"(?:tasks?|to-?dos?|items?|reminders?|entry|entries)"
# Words between an add verb and the title: "add a task TO buy milk", "a task CALLED 'x'".
CONNECTOR = (
    r"(?:(?:to|for|called|named|titled|that\s+says|saying)\b|[:\-]"
    r"|(?:these|the\s+following|this)(?:\s+(?:tasks|things|items|ones))?\s*:)"
)
# "… to my list", "… on the to-do list": decoration around a title or a task reference.
LIST_PHRASE = (
    r"(?:to|on|onto|in|into|from|off|out\s+of)\s+(?:my|the|your)\s+"
    r"(?:to-?do\s+|todo\s+|task\s+|shopping\s+|grocery\s+)?(?:list|tasks|to-?dos)"
)
# States a task can be put in; "done" ones complete it, the others would reopen it.
DONE_STATE = r"(?:done|complete|completed|finished|checked(?:\s+off)?|ticked(?:\s+off)?)"
REOPEN_STATE = (
    r"(?:not\s+(?:yet\s+)?(?:done|complete|completed|finished)|incomplete|uncompleted|undone|"
    r"unfinished|pending|open|to\s?do|active)"
)
DONE_STATE_RE = re.compile(DONE_STATE, re.IGNORECASE)
REOPEN_STATE_RE = re.compile(REOPEN_STATE, re.IGNORECASE)

# Which tasks a listing asks for; the negative forms are tried first ("not done" is pending).
PENDING_WORDS = re.compile(
    r"\b(?:pending|left|remaining|open|outstanding|unfinished|incomplete|uncompleted|undone|"
    r"not\s+(?:yet\s+)?(?:done|completed?|finished)|still|active|upcoming|next|"
    r"(?:have|need|got)\s+to\s+do|to\s+do\b(?!\s+list))"
    r"|n't\b|\b(?:havent|didnt|arent|isnt|not|yet)\b",
    re.IGNORECASE,
)
COMPLETED_WORDS = re.compile(
    r"\b(?:completed?|done|finished|finish|accomplished|ticked|checked\s+off|crossed\s+off)\b",
    re.IGNORECASE,
)
LIST_NOUN = r"(?:tasks?|to-?dos?|list|items?|agenda|reminders?|plate|stuff|things|ones)"

# Saying no to a change: "don't delete it", "I haven't called mom yet", "never mind".
# "don't forget to …" is a request to add, so it is not one.
REFUSAL = re.compile(
    r"^(?!.*\bforget\b).*(?:\b(?:don'?t|do\s+not|didn'?t|did\s+not|haven'?t|have\s+not|"
    r"hasn'?t|has\s+not|not\s+yet|never\s+mind|nevermind|no\s+need)\b)",
    re.IGNORECASE,
)

UPDATE_VERB = r"(?:change|rename|update|edit|modify|set|retitle|reword)"
DELETE_VERB = (
    r"(?:delete|remove|cancel|drop|erase|trash|scrap|scratch|discard|ditch|get\s+rid\s+of|"
    r"forget\s+about|throw\s+(?:away|out))"
)

# Words that carry no meaning when matching a task by its title: articles, task nouns, and
# the small words people add around a title ("today", "finally", "already").
STOP_WORDS = frozenset(
    "a an the my your our this that these those it its task tasks todo todos to do item items "
    "one ones thing entry reminder list please about for with of on in "
    "from off i me im am m is are as s ve ll d been has have was were be "
    "today tonight now just already finally yesterday earlier also again really all so too "
    "morning afternoon evening night week weekend last".split()
)

# Ordinals for "the first one", "the 3rd one" (an index into what the last turn showed).
ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "seventh": 6, "7th": 6, "eighth": 7, "8th": 7,
    "ninth": 8, "9th": 8, "tenth": 9, "10th": 9, "last": -1,
}  # fmt: skip

NUMBER_WORDS = {
    word: number
    for number, word in enumerate(
        "one two three four five six seven eight nine ten eleven twelve".split(), start=1
    )
}

# The words a command is made of, for correcting typos ("delet" → "delete"). Verbs are only
# corrected where a command verb stands (the start of the message); the others anywhere.
COMMAND_VERBS = (
    "add create make remind remember note jot put "
    "show list display view see tell give "
    "delete remove cancel drop erase "
    "mark complete finish finished completed check tick cross "
    "change rename update edit set"
).split()
COMMAND_WORDS = (
    "task tasks todo todos pending completed complete finished done what what's whats which "
    "list show remaining outstanding unfinished number"
).split()
# Words typed on purpose that no dictionary knows: never "corrected".
KNOWN_SLANG = frozenset(
    "todo todos whats pls plz thx ty u ur im ive dont didnt havent gotta wanna gonna ok okay "
    "yeah yep nope asap".split()
)
