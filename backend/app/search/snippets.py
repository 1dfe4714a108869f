"""Words of a search query, and result snippets built in Python from the stored text.

The database finds the rows; the snippet is cut here rather than by PostgreSQL's ts_headline
(which parses tag-like text such as `<b>` as markup and drops it) so that the stored text
survives, and so that SQLite and PostgreSQL give the same snippet for the same row.

A word is a run of letters and digits (`[^\\W_]+`, the way both databases' tokenizers see it);
everything else in a query (quotes, `*`, `-`, `:`, `%`, `\\`, SQL) only separates words, and
operators such as OR or NEAR are words like any other.
"""

import html
import re
import unicodedata
from collections.abc import Sequence

WORD = re.compile(r"[^\W_]+")
WHITESPACE = re.compile(r"\s+")

# Words of three or more characters also match as prefixes ("groc" finds "groceries"; with no
# stemming this is also what finds "gardens" for "garden"). Shorter ones must match whole words:
# "to*" or "a*" would match most of a user's messages (and cost as much), "to" alone does not.
# Chinese, Japanese and Korean words are short, and both tokenizers take a whole run of such
# characters for one word, so the beginning of a run is the only way in: those always match as
# prefixes ("東京" finds "東京タワーに行きます").
MIN_PREFIX_LENGTH = 3
WIDE = ("W", "F")  # East Asian Width: wide and fullwidth characters
SNIPPET_WORDS = 30
WORDS_BEFORE_MATCH = 8
# A window of 30 "words" can still be long (a URL, a base64 blob, a wall of punctuation).
SNIPPET_MAX_CHARS = 300
ELLIPSIS = "…"


def fold(word: str) -> str:
    """A word compared without case or accents, as both databases' search configurations do."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


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


def is_prefix_word(word: str) -> bool:
    """Whether the word also matches longer words that start with it."""
    return len(word) >= MIN_PREFIX_LENGTH or any(
        unicodedata.east_asian_width(char) in WIDE for char in word
    )


def _matches(token: str, folded_words: Sequence[str]) -> bool:
    folded = fold(token)
    return any(
        folded == word or (is_prefix_word(word) and folded.startswith(word))
        for word in folded_words
    )


def _plain(text: str) -> str:
    return html.escape(WHITESPACE.sub(" ", text))


def build_snippet(text: str, words: Sequence[str]) -> str:
    """About 30 words of `text` around its first match, HTML-escaped, matches in <mark>.

    Text cut off at either end is marked with an ellipsis; runs of whitespace (newlines
    included) become one space, so a snippet is one line.
    """
    text = unicodedata.normalize("NFC", text)
    folded_words = [fold(word) for word in words]
    tokens = list(WORD.finditer(text))
    if not tokens:
        return _plain(text[:SNIPPET_MAX_CHARS]).strip()
    marked = [_matches(token.group(), folded_words) for token in tokens]
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
