"""Query words, snippets and the database query strings, through the functions themselves."""

from backend.app.search.service import owner_token, to_fts5_match, to_tsquery_text
from backend.app.search.snippets import (
    SNIPPET_MAX_CHARS,
    SNIPPET_WORDS,
    Term,
    build_snippet,
    query_terms,
    query_words,
    rank,
)

WORDS = [f"w{n}" for n in range(100)]


def snippet_of(text: str, query: str) -> str:
    return build_snippet(text, query_terms(query))


def test_query_words_are_runs_of_letters_and_digits_each_once() -> None:
    assert query_words('"Groceries" OR -bills* NEAR(x) groceries') == [
        "Groceries",
        "OR",
        "bills",
        "NEAR",
        "x",
    ]
    assert query_words("foo_bar 50% back\\slash O'Brien") == [
        "foo",
        "bar",
        "50",
        "back",
        "slash",
        "O",
        "Brien",
    ]
    assert query_words("?! ... * — «»") == []
    assert query_words("Café CAFE cafe\u0301") == ["Café"]  # folded alike, and NFC first
    assert query_words("東京タワー 서울") == ["東京タワー", "서울"]


def test_a_short_text_is_whole_with_its_matches_marked() -> None:
    assert snippet_of("Buy groceries, then more Groceries!", "groc") == (
        "Buy <mark>groceries</mark>, then more <mark>Groceries</mark>!"
    )


def test_the_window_is_about_30_words_around_the_first_match() -> None:
    text = " ".join(WORDS[:50] + ["target"] + WORDS[50:])

    snippet = snippet_of(text, "target")

    words = snippet.strip("…").split()
    assert len(words) == SNIPPET_WORDS
    assert words[:9] == [*WORDS[42:50], "<mark>target</mark>"]
    assert snippet.startswith("…w42 ") and snippet.endswith(" w70…")


def test_a_match_near_either_end_fills_the_window_from_the_other_side() -> None:
    text = " ".join(WORDS + ["target"])
    assert snippet_of(text, "target") == "…" + " ".join(WORDS[71:]) + " <mark>target</mark>"
    text = " ".join(["target"] + WORDS)
    assert snippet_of(text, "target") == "<mark>target</mark> " + " ".join(WORDS[:29]) + "…"


def test_without_a_visible_match_the_snippet_is_the_start() -> None:
    assert snippet_of(" ".join(WORDS), "nothing") == " ".join(WORDS[:30]) + "…"


def test_a_snippet_is_capped_in_characters() -> None:
    blob = "A" * 5000
    snippet = snippet_of(f"{blob} needle {blob}", "needle")
    assert "<mark>needle</mark>" in snippet
    assert len(snippet) <= SNIPPET_MAX_CHARS + len("<mark></mark>") + 2
    assert len(snippet_of("!" * 5000, "x")) <= SNIPPET_MAX_CHARS


def test_everything_but_the_marks_is_escaped() -> None:
    snippet = snippet_of("<b>x</b> & \"quoted\" 'single' <mark>fake</mark>", "x fake")
    assert snippet == (
        "&lt;b&gt;<mark>x</mark>&lt;/b&gt; &amp; &quot;quoted&quot; &#x27;single&#x27; "
        "&lt;mark&gt;<mark>fake</mark>&lt;/mark&gt;"
    )


def test_query_terms_match_whole_words_but_the_last_one_from_three_letters() -> None:
    assert query_terms("groc bills d") == [
        Term("groc", False),
        Term("bills", False),
        Term("d", False),
    ]
    assert query_terms("buy groc") == [Term("buy", False), Term("groc", True)]
    assert query_terms("to") == [Term("to", False)]
    # CJK words are found by the beginning of their run, wherever they stand.
    assert query_terms("東京 x 旅") == [Term("東京", True), Term("x", False), Term("旅", True)]


def test_only_prefix_terms_mark_longer_words() -> None:
    assert snippet_of("vitamin d daily dose", "d") == "vitamin <mark>d</mark> daily dose"
    assert snippet_of("to do today", "to") == "<mark>to</mark> do today"
    assert snippet_of("vitamin d daily dose", "dai") == "vitamin d <mark>daily</mark> dose"
    assert snippet_of("buying groceries", "buy groc") == "buying <mark>groceries</mark>"
    assert snippet_of("明日は東京", "明") == "<mark>明日は東京</mark>"


def test_accents_and_case_match_but_the_text_is_kept() -> None:
    assert snippet_of("Un CAFÉ à Paris", "cafe") == "Un <mark>CAFÉ</mark> à Paris"
    assert snippet_of("un cafe", "Café") == "un <mark>cafe</mark>"


def test_whitespace_is_collapsed_to_one_line() -> None:
    assert snippet_of("  a\n\nb\tc\r\n", "b") == "a <mark>b</mark> c"


def test_the_postgresql_query_quotes_every_word() -> None:
    terms = [Term("groc", True), Term("a", False), Term("it's", False), Term("back\\", True)]
    assert to_tsquery_text(terms) == "'groc':* & 'a' & 'it''s' & 'back\\\\':*"


def test_the_fts5_query_quotes_every_word_and_names_the_owner() -> None:
    terms = [Term("groc", False), Term("a", False), Term('say "x"', True)]
    assert to_fts5_match("alice", "content", terms) == (
        f'owner : "{owner_token("alice")}" AND content : ("groc" AND "a" AND "say ""x"""*)'
    )
    assert owner_token("alice") == "616C696365"


def test_the_rank_grows_with_occurrences_and_shrinks_with_length() -> None:
    terms = query_terms("garden")
    once, thrice = rank("a garden", terms), rank("garden garden garden", terms)
    long_once = rank("garden " + " ".join(WORDS), terms)
    assert thrice > once > long_once > 0
    assert rank("no match here", terms) == 0
    # The last word counts as a prefix, the others whole.
    assert rank("gardens", query_terms("garden")) > 0
    assert rank("gardens tools", query_terms("garden tools")) < rank(
        "garden tools", query_terms("garden tools")
    )
    assert rank("Un CAFÉ", query_terms("cafe")) == rank("un cafe", query_terms("cafe"))
