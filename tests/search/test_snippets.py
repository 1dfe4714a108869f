"""Query words, snippets and the database query strings, through the functions themselves."""

from backend.app.search.service import owner_token, to_fts5_match, to_tsquery_text
from backend.app.search.snippets import (
    SNIPPET_MAX_CHARS,
    SNIPPET_WORDS,
    build_snippet,
    query_words,
)

WORDS = [f"w{n}" for n in range(100)]


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
    assert build_snippet("Buy groceries, then more Groceries!", ["groc"]) == (
        "Buy <mark>groceries</mark>, then more <mark>Groceries</mark>!"
    )


def test_the_window_is_about_30_words_around_the_first_match() -> None:
    text = " ".join(WORDS[:50] + ["target"] + WORDS[50:])

    snippet = build_snippet(text, ["target"])

    words = snippet.strip("…").split()
    assert len(words) == SNIPPET_WORDS
    assert words[:9] == [*WORDS[42:50], "<mark>target</mark>"]
    assert snippet.startswith("…w42 ") and snippet.endswith(" w70…")


def test_a_match_near_either_end_fills_the_window_from_the_other_side() -> None:
    text = " ".join(WORDS + ["target"])
    assert build_snippet(text, ["target"]) == "…" + " ".join(WORDS[71:]) + " <mark>target</mark>"
    text = " ".join(["target"] + WORDS)
    assert build_snippet(text, ["target"]) == "<mark>target</mark> " + " ".join(WORDS[:29]) + "…"


def test_without_a_visible_match_the_snippet_is_the_start() -> None:
    assert build_snippet(" ".join(WORDS), ["nothing"]) == " ".join(WORDS[:30]) + "…"


def test_a_snippet_is_capped_in_characters() -> None:
    blob = "A" * 5000
    snippet = build_snippet(f"{blob} needle {blob}", ["needle"])
    assert "<mark>needle</mark>" in snippet
    assert len(snippet) <= SNIPPET_MAX_CHARS + len("<mark></mark>") + 2
    assert len(build_snippet("!" * 5000, ["x"])) <= SNIPPET_MAX_CHARS


def test_everything_but_the_marks_is_escaped() -> None:
    snippet = build_snippet("<b>x</b> & \"quoted\" 'single' <mark>fake</mark>", ["x", "fake"])
    assert snippet == (
        "&lt;b&gt;<mark>x</mark>&lt;/b&gt; &amp; &quot;quoted&quot; &#x27;single&#x27; "
        "&lt;mark&gt;<mark>fake</mark>&lt;/mark&gt;"
    )


def test_words_of_one_or_two_letters_mark_whole_words_only() -> None:
    assert build_snippet("vitamin d daily dose", ["d"]) == "vitamin <mark>d</mark> daily dose"
    assert build_snippet("to do today", ["to"]) == "<mark>to</mark> do today"
    assert build_snippet("vitamin d daily dose", ["dai"]) == "vitamin d <mark>daily</mark> dose"
    # ...except Chinese, Japanese and Korean ones, found by the beginning of their run.
    assert build_snippet("明日は東京", ["明"]) == "<mark>明日は東京</mark>"


def test_accents_and_case_match_but_the_text_is_kept() -> None:
    assert build_snippet("Un CAFÉ à Paris", ["cafe"]) == "Un <mark>CAFÉ</mark> à Paris"
    assert build_snippet("un cafe", ["Café"]) == "un <mark>cafe</mark>"


def test_whitespace_is_collapsed_to_one_line() -> None:
    assert build_snippet("  a\n\nb\tc\r\n", ["b"]) == "a <mark>b</mark> c"


def test_the_postgresql_query_quotes_every_word() -> None:
    assert to_tsquery_text(["groc", "a", "to", "it's", "back\\"]) == (
        "'groc':* & 'a' & 'to' & 'it''s':* & 'back\\\\':*"
    )


def test_the_fts5_query_quotes_every_word_and_names_the_owner() -> None:
    assert to_fts5_match("alice", "content", ["groc", "a", "to", 'say "x"']) == (
        f'owner : "{owner_token("alice")}" AND content : ("groc"* AND "a" AND "to" AND '
        '"say ""x"""*)'
    )
    assert owner_token("alice") == "616C696365"
