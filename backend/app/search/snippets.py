"""The terms of a search query, and what is made of a matching text in Python: its snippet,
and on SQLite its rank.

The database finds the rows; the snippet is cut here rather than by PostgreSQL's ts_headline
(which parses tag-like text such as `<b>` as markup and drops it) so that the stored text
survives, and so that SQLite and PostgreSQL give the same snippet for the same row.

A word is a run of letters and digits (`[^\\W_]+`, the way both databases' tokenizers see it);
everything else in a query (quotes, `*`, `-`, `:`, `%`, `\\`, SQL) only separates words, and
operators such as OR or NEAR are words like any other.

Every word must match whole, except that the last one also matches as a prefix, as a search box
that searches while one types needs ("call plumb" finds "call the plumber"); the same rule as
Meilisearch's or Typesense's. Prefixes on every word would find "gardens" for "garden tools", but
each prefix of a frequent word ("the", "riro" in the benchmark) must collect the entries of all
the words it starts, across all users, before the AND: measured, that made a frequent word plus
a rare one cost 5x (PostgreSQL) to 4x (SQLite) more than with the whole word.
"""

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

WORD = re.compile(r"[^\W_]+")
WHITESPACE = re.compile(r"\s+")

# The last word matches as a prefix from three characters on ("groc" finds "groceries"); "a*" or
# "to*" would match most of a user's messages (and cost as much). Chinese, Japanese and Korean
# words are short, and both tokenizers take a whole run of such characters for one word, so the
# beginning of a run is the only way in: those always match as prefixes, wherever they stand
# ("東京" finds "東京タワーに行きます").
MIN_PREFIX_LENGTH = 3
WIDE = ("W", "F")  # East Asian Width: wide and fullwidth characters
SNIPPET_WORDS = 30
WORDS_BEFORE_MATCH = 8
# A window of 30 "words" can still be long (a URL, a base64 blob, a wall of punctuation).
SNIPPET_MAX_CHARS = 300
ELLIPSIS = "…"


def fold(word: str) -> str:
    """A word compared without case or accents, as both databases' search configurations do."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Term:
    """A word of the query, and whether it also matches longer words that start with it."""

    word: str
    prefix: bool


def query_words(query: str) -> list[str]:
    """The words of a search query, in order, each once (compared folded)."""
    words: list[str] = []
    seen: set[str] = set()
    for word in WORD.findall(unicodedata.normalize("NFC", query)):
        folded = fold(word)
        if folded and folded not in seen:
            seen.add(folded)
            words.append(word)
    return words


def query_terms(query: str) -> list[Term]:
    """The terms to find: every word of the query, the last one (and CJK ones) as prefixes."""
    words = query_words(query)
    return [
        Term(word, _is_wide(word) or (n == len(words) - 1 and len(word) >= MIN_PREFIX_LENGTH))
        for n, word in enumerate(words)
    ]


def _is_wide(word: str) -> bool:
    return any(unicodedata.east_asian_width(char) in WIDE for char in word)


def _matches(token: str, folded_terms: Sequence[Term]) -> bool:
    folded = fold(token)
    return any(
        folded == term.word or (term.prefix and folded.startswith(term.word))
        for term in folded_terms
    )


# BM25's term-frequency part, with a fixed average length instead of the corpus's: a text is
# ranked from itself alone, so no other user's rows are read (nor can they sway the order).
RANK_K1 = 1.2
RANK_B = 0.75
RANK_AVERAGE_WORDS = 30


def rank(text: str, terms: Sequence[Term]) -> float:
    """How well the text matches the terms: more occurrences (saturating), shorter text first."""
    folded_terms = [Term(fold(term.word), term.prefix) for term in terms]
    counts = [0] * len(folded_terms)
    length = 0
    for token in WORD.finditer(text):
        length += 1
        folded = fold(token.group())
        for n, term in enumerate(folded_terms):
            if folded == term.word or (term.prefix and folded.startswith(term.word)):
                counts[n] += 1
    norm = RANK_K1 * (1 - RANK_B + RANK_B * length / RANK_AVERAGE_WORDS)
    return sum(count * (RANK_K1 + 1) / (count + norm) for count in counts if count)


def _plain(text: str) -> str:
    return html.escape(WHITESPACE.sub(" ", text))


def build_snippet(text: str, terms: Sequence[Term]) -> str:
    """About 30 words of `text` around its first match, HTML-escaped, matches in <mark>.

    Text cut off at either end is marked with an ellipsis; runs of whitespace (newlines
    included) become one space, so a snippet is one line.
    """
    text = unicodedata.normalize("NFC", text)
    folded_terms = [Term(fold(term.word), term.prefix) for term in terms]
    tokens = list(WORD.finditer(text))
    if not tokens:
        return _plain(text[:SNIPPET_MAX_CHARS]).strip()
    marked = [_matches(token.group(), folded_terms) for token in tokens]
    first = marked.index(True) if True in marked else None

    start = max(0, (first or 0) - WORDS_BEFORE_MATCH)
    end = min(len(tokens), start + SNIPPET_WORDS)
    start = max(0, end - SNIPPET_WORDS)  # a match near the end: fill the window from before
    char_start = 0 if start == 0 else tokens[start].start()
    char_end = len(text) if end == len(tokens) else tokens[end - 1].end()
    if char_end - char_start > SNIPPET_MAX_CHARS:
        anchor = tokens[first].start() if first is not None else char_start
        char_start = max(char_start, anchor - SNIPPET_MAX_CHARS // 4)
        char_end = min(char_end, char_start + SNIPPET_MAX_CHARS)

    pieces: list[str] = []
    position = char_start
    for token, is_match in zip(tokens, marked, strict=True):
        if is_match and token.start() >= char_start and token.end() <= char_end:
            pieces.append(_plain(text[position : token.start()]))
            pieces.append(f"<mark>{html.escape(token.group())}</mark>")
            position = token.end()
    pieces.append(_plain(text[position:char_end]))
    body = "".join(pieces).strip()
    prefix = ELLIPSIS if char_start > 0 else ""
    suffix = ELLIPSIS if char_end < len(text) else ""
    return f"{prefix}{body}{suffix}"
