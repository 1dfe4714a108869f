"""Words: lemmas (lemminflect), stems (Snowball), whether two words are one, and typo repair.

"bought" and "buy", "calling" and "call", "groceries" and "grocery" share a lemma, so a task is
found whatever form the user types. A misspelling is only ever matched or repaired when the
typed word is no English word at all ("haricut", "delet"): a real word ("car", "bills") is taken
as meant, so a fuzzy match can never turn an ordinary message into a change.
"""

import re
from functools import lru_cache

from lemminflect import getAllInflections, getAllLemmas
from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne
from snowballstemmer import stemmer

from backend.app.agent.rules.lexicon import COMMAND_VERBS, COMMAND_WORDS, KNOWN_SLANG, STOP_WORDS

_WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    """Lower-case words; single letters ("s" of "mom's") carry nothing, digits do."""
    found = (w.strip("'") for w in _WORD.findall(text.casefold()))
    return [w.removesuffix("'s") for w in found if len(w) > 1 or w.isdigit()]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOP_WORDS]


@lru_cache(maxsize=4096)
def lemmas(word: str) -> frozenset[str]:
    """The word and every lemma it may have, whatever its part of speech."""
    found = {word}
    for forms in getAllLemmas(word).values():
        found.update(forms)
    return frozenset(found)


_STEMMER = stemmer("english")


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """The Snowball stem: it joins what lemmas keep apart ("preparation"/"prepare")."""
    stemmed: str = _STEMMER.stemWord(word)  # snowballstemmer ships no types
    return stemmed


@lru_cache(maxsize=4096)
def is_known(word: str) -> bool:
    """An English word (in lemminflect's dictionary), a number, or slang we expect."""
    return word.isdigit() or word in KNOWN_SLANG or word in STOP_WORDS or bool(getAllLemmas(word))


def is_verb_base(word: str) -> bool:
    """'call', 'buy', 'pick': a word that can be a verb and is written as the verb's base
    form, as an imperative is ("buy milk", not "bought milk" or "chips")."""
    return word in getAllLemmas(word).get("VERB", ())


@lru_cache(maxsize=4096)
def past_tense_lemma(word: str) -> str | None:
    """'bought' → 'buy', 'emailed' → 'email'; None when the word is no past form of a verb
    ("calling", "calls" and "call" are not: they state nothing that happened)."""
    verb_lemmas: tuple[str, ...] = getAllLemmas(word).get("VERB", ())  # lemminflect: untyped
    for lemma in verb_lemmas:
        forms = getAllInflections(lemma, upos="VERB")
        if word in forms.get("VBD", ()) + forms.get("VBN", ()) and word != lemma:
            return lemma
    return None


def warm_up() -> None:
    """Load the dictionaries now (once per process) rather than in the first turn."""
    past_tense_lemma("bought")
    stem("warming")


def _max_typos(word: str) -> int:
    # Short words have too many neighbours: "cat"/"car". One slip from 4 letters, two from 8.
    if len(word) < 4:
        return 0
    return 1 if len(word) < 8 else 2


def same_word(wanted: str, word: str) -> bool:
    """Whether a word the user typed names a title word: same lemma, same stem ("preparation"
    finds "prepare"), a prefix ("meet" finds "meeting"), or — for a word no dictionary knows —
    one or two slips of the keyboard."""
    if wanted == word or lemmas(wanted) & lemmas(word):
        return True
    if len(stem(wanted)) >= 4 and stem(wanted) == stem(word):
        return True
    if len(wanted) >= 3 and word.startswith(wanted):
        return True
    limit = _max_typos(wanted)
    return limit > 0 and not is_known(wanted) and OSA.distance(wanted, word) <= limit


def corrected(word: str, *, verb_position: bool) -> str:
    """The command word `word` was meant to be ("shwo" → "show"), or `word` itself."""
    if is_known(word) or not word.isalpha():
        return word
    choices = COMMAND_VERBS + COMMAND_WORDS if verb_position else COMMAND_WORDS
    limit = max(_max_typos(word), 1 if verb_position and len(word) >= 2 else 0)
    best = extractOne(word, choices, scorer=OSA.distance, score_cutoff=limit)
    return best[0] if best else word
