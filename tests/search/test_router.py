"""GET /api/{user_id}/search through HTTP, on SQLite (FTS5) and PostgreSQL (GIN) alike."""

import base64
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text
from sqlmodel import Session

from backend.app.models import Conversation, Message, User, utcnow
from backend.app.search import service as search_service
from backend.app.search.snippets import query_terms
from tests.conftest import auth

HIT_FIELDS = {
    "conversation_id",
    "conversation_title",
    "message_id",
    "role",
    "snippet",
    "created_at",
}
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"


def start(client: TestClient, title: str | None = None, user: str = "alice") -> int:
    body = {} if title is None else {"title": title}
    response = client.post(f"/api/{user}/conversations", json=body, headers=auth(user))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def post(
    client: TestClient, conversation_id: int, content: str, role: str = "user", user: str = "alice"
) -> int:
    response = client.post(
        f"/api/{user}/conversations/{conversation_id}/messages",
        json={"role": role, "content": content},
        headers=auth(user),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def search_response(client: TestClient, q: str, user: str = "alice", **params: Any):
    return client.get(f"/api/{user}/search", params={"q": q, **params}, headers=auth(user))


def search(client: TestClient, q: str, user: str = "alice", **params: Any) -> dict[str, Any]:
    response = search_response(client, q, user, **params)
    assert response.status_code == 200, response.text
    return response.json()


def message_ids(client: TestClient, q: str, user: str = "alice") -> list[int | None]:
    return [hit["message_id"] for hit in search(client, q, user, limit=100)["data"]]


def marked(snippet: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", snippet)


# --- finding ------------------------------------------------------------------------------


def test_a_word_in_the_middle_of_a_long_message_is_found_with_a_snippet_around_it(
    client: TestClient,
) -> None:
    conversation = start(client, "Planning")
    long_text = " ".join([FILLER] * 100 + ["remember the groceries tomorrow"] + [FILLER] * 100)
    message = post(client, conversation, long_text)
    post(client, conversation, "nothing to see here")

    page = search(client, "groceries")

    assert page["has_more"] is False and page["next_cursor"] is None
    [hit] = page["data"]
    assert set(hit) == HIT_FIELDS
    assert hit["conversation_id"] == conversation
    assert hit["conversation_title"] == "Planning"
    assert hit["message_id"] == message
    assert hit["role"] == "user"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+(Z|\+00:00)", hit["created_at"])
    snippet = hit["snippet"]
    assert marked(snippet) == ["groceries"]
    # About 30 words around the match, cut off on both sides.
    assert snippet.startswith("…") and snippet.endswith("…")
    assert 25 <= len(snippet.split()) <= 32
    assert "remember the <mark>groceries</mark> tomorrow" in snippet


def test_all_words_must_match_and_the_last_one_as_a_prefix(client: TestClient) -> None:
    conversation = start(client)
    both = post(client, conversation, "Buy groceries and pay the electricity bills")
    only_one = post(client, conversation, "Buy groceries")

    assert set(message_ids(client, "groc")) == {both, only_one}
    assert message_ids(client, "groceries bills") == [both]
    assert message_ids(client, "GROCERIES electric") == [both]
    assert message_ids(client, "groceries holiday") == []
    # Words before the last must be whole: "groc" is not a word of either message.
    assert message_ids(client, "groc bills") == []
    hit = search(client, "groceries bil")["data"][0]
    assert marked(hit["snippet"]) == ["groceries", "bills"]


def test_words_of_one_or_two_letters_match_whole_words_only(client: TestClient) -> None:
    conversation = start(client)
    vitamin = post(client, conversation, "take vitamin d daily")
    post(client, conversation, "drink water daily")
    today = post(client, conversation, "what to do today")

    assert message_ids(client, "d daily") == [vitamin]
    assert message_ids(client, "to") == [today]
    assert message_ids(client, "tod") == [today]


def test_a_matching_title_is_a_hit_of_its_own(client: TestClient) -> None:
    titled = start(client, "Weekend <groceries> list")
    created_at = client.get(f"/api/alice/conversations/{titled}", headers=auth()).json()[
        "created_at"
    ]
    post(client, titled, "milk, eggs and bread")

    [hit] = search(client, "groceries")["data"]

    assert hit == {
        "conversation_id": titled,
        "conversation_title": "Weekend <groceries> list",
        "message_id": None,
        "role": None,
        "snippet": "Weekend &lt;<mark>groceries</mark>&gt; list",
        "created_at": created_at,
    }


def test_the_title_hit_comes_first_in_its_conversation(client: TestClient) -> None:
    conversation = start(client, "Groceries")
    first = post(client, conversation, "groceries: milk")
    second = post(client, conversation, "more groceries: eggs")

    ids = message_ids(client, "groceries")

    assert ids[0] is None
    assert set(ids[1:]) == {first, second}


def test_a_conversation_with_more_matches_ranks_higher(client: TestClient) -> None:
    few = start(client, "Few")
    many = start(client, "Many")
    newest = start(client, "Newest")
    post(client, few, "the garden needs watering")
    for content in ("garden tools", "garden seeds", "plant the garden"):
        post(client, many, content)
    post(client, newest, "a garden party, the best garden of all garden parties")

    hits = search(client, "garden")["data"]

    order = [hit["conversation_id"] for hit in hits]
    assert order == [many, many, many, newest, few]


def test_relevance_comes_before_recency(client: TestClient) -> None:
    # One matching message each: the one that says "kiwi" three times is the better match,
    # although its conversation is the older one.
    strong_conversation = start(client)
    strong = post(client, strong_conversation, "kiwi smoothie: kiwi, banana and more kiwi")
    weak_conversation = start(client)
    weak = post(client, weak_conversation, "buy kiwi and banana for the smoothie")
    assert strong_conversation < weak_conversation

    assert message_ids(client, "kiwi") == [strong, weak]


def test_equally_good_matches_put_the_newer_conversation_first(client: TestClient) -> None:
    older = post(client, start(client), "buy kiwi")
    newer = post(client, start(client), "buy kiwi")

    assert message_ids(client, "kiwi") == [newer, older]


def test_a_matching_title_adds_to_its_conversations_relevance(client: TestClient) -> None:
    titled = start(client, "Kiwi")
    in_titled = post(client, titled, "buy kiwi")
    untitled = start(client)
    in_untitled = post(client, untitled, "buy kiwi")

    assert message_ids(client, "kiwi") == [None, in_titled, in_untitled]


def test_only_the_newest_matches_are_ranked_older_ones_follow_by_recency(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ranking reads each message's text, so it is bounded to the newest matches; here 2.
    monkeypatch.setattr(search_service, "RANKED_MATCHES", 2)
    old_strong = post(client, start(client), "kiwi kiwi kiwi")
    old_weak = post(client, start(client), f"kiwi {FILLER}")
    new_weak = post(client, start(client), f"kiwi {FILLER} {FILLER}")
    new_strong = post(client, start(client), "kiwi kiwi")

    ids = message_ids(client, "kiwi")
    assert ids == [new_strong, new_weak, old_weak, old_strong]
    assert len(set(ids)) == 4


def test_within_a_conversation_the_better_match_ranks_higher(client: TestClient) -> None:
    conversation = start(client)
    weak = post(client, conversation, f"garden {FILLER} {FILLER} {FILLER}")
    strong = post(client, conversation, "garden garden garden")

    assert message_ids(client, "garden") == [strong, weak]


def test_archived_conversations_are_searched_too(client: TestClient) -> None:
    conversation = start(client)
    message = post(client, conversation, "the archived groceries")
    response = client.patch(
        f"/api/alice/conversations/{conversation}", json={"archived": True}, headers=auth()
    )
    assert response.status_code == 200

    assert message_ids(client, "groceries") == [message]


# --- isolation ----------------------------------------------------------------------------


def test_another_users_rows_are_never_returned(client: TestClient) -> None:
    alice_conversation = start(client, "Groceries of alice", user="alice")
    alice_message = post(client, alice_conversation, "groceries for alice", user="alice")
    bob_conversation = start(client, "Groceries of bob", user="bob")
    bob_message = post(client, bob_conversation, "groceries for bob", user="bob")
    # An id that is a prefix of the other, and one that hex-encodes into the other's start.
    for user in ("al", "alice2"):
        other = start(client, "Groceries", user=user)
        post(client, other, "groceries", user=user)

    alice_hits = search(client, "groceries", user="alice")["data"]
    bob_hits = search(client, "groceries", user="bob")["data"]

    assert {h["conversation_id"] for h in alice_hits} == {alice_conversation}
    assert [h["message_id"] for h in alice_hits] == [None, alice_message]
    assert {h["conversation_id"] for h in bob_hits} == {bob_conversation}
    assert [h["message_id"] for h in bob_hits] == [None, bob_message]
    assert search(client, "groceries", user="carol")["data"] == []


def test_searching_another_users_path_is_refused(client: TestClient) -> None:
    response = client.get("/api/bob/search", params={"q": "x"}, headers=auth("alice"))
    assert response.status_code == 403
    assert client.get("/api/alice/search", params={"q": "x"}).status_code == 401


def test_a_long_user_id_is_one_owner_token(client: TestClient) -> None:
    user = "u" * 255
    conversation = start(client, user=user)
    message = post(client, conversation, "groceries", user=user)

    assert message_ids(client, "groceries", user=user) == [message]
    assert message_ids(client, "groceries", user="u" * 254) == []


# --- what a query may contain -------------------------------------------------------------

ODD_QUERIES = [
    '"',
    '"groceries',
    "'",
    "O'Brien",
    "*",
    "groc*",
    "-",
    "-groceries",
    "NEAR",
    "NEAR(groceries bills)",
    "OR",
    "groceries OR bills",
    "AND NOT",
    "%",
    "50%",
    "_",
    "foo_bar",
    "\\",
    "back\\slash",
    "^groceries",
    "content:groceries",
    "owner:groceries",
    "{owner content}: x",
    "groceries)",
    "(((",
    "' OR 1=1 --",
    "'; DROP TABLE messages; --",
    "a & b | !c <-> d:*",
    "groceries:*",
    "\t\n ",
    "😀🎉",
    "Straße",
    "ﬁ",
    "e\u0301",
    "x" * 200,
    "a " * 100,
]


@pytest.mark.parametrize("q", ODD_QUERIES)
def test_odd_queries_never_fail(client: TestClient, q: str) -> None:
    conversation = start(client, "Groceries")
    post(client, conversation, "groceries or bills; foo_bar 50% off for O'Brien, back\\slash")

    response = search_response(client, q)

    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == {"data", "has_more", "next_cursor"}


def test_operators_and_punctuation_are_plain_words(client: TestClient) -> None:
    conversation = start(client)
    with_or = post(client, conversation, "groceries or bills")
    without_or = post(client, conversation, "groceries and bills")
    underscored = post(client, conversation, "see foo_bar.py, 50% off for O'Brien, back\\slash")
    near = post(client, conversation, "near the station")

    # OR is a word to find, not an operator; so is NEAR.
    assert message_ids(client, "groceries OR bills") == [with_or]
    assert message_ids(client, "NEAR station") == [near]
    # A minus is not a negation; quotes and stars are not syntax.
    assert set(message_ids(client, "-groceries")) == {with_or, without_or}
    assert set(message_ids(client, '"groceries" bills*')) == {with_or, without_or}
    # %, _ and \ separate words (and are no LIKE wildcards).
    assert message_ids(client, "foo_bar") == [underscored]
    assert message_ids(client, "50%") == [underscored]
    assert message_ids(client, "back\\slash") == [underscored]
    assert message_ids(client, "O'Brien") == [underscored]
    assert message_ids(client, "%") == []
    assert message_ids(client, "_") == []


def test_a_query_without_words_is_an_empty_page(client: TestClient) -> None:
    conversation = start(client, "Punctuation")
    post(client, conversation, "?!... --- ***")

    for q in ("?!", "...", " ", "*", '""', "—"):
        assert search(client, q) == {"data": [], "has_more": False, "next_cursor": None}


def test_accents_and_case_are_ignored(client: TestClient) -> None:
    conversation = start(client, "Crème brûlée")
    cafe = post(client, conversation, "Un café à Paris")
    naive = post(client, conversation, "a NAIVE question")

    assert message_ids(client, "cafe") == [cafe]
    assert message_ids(client, "CAFÉ") == [cafe]
    assert message_ids(client, "naïve") == [naive]
    assert message_ids(client, "creme brulee") == [None]
    assert marked(search(client, "cafe")["data"][0]["snippet"]) == ["café"]


def test_cjk_runs_are_found_by_their_beginning(client: TestClient) -> None:
    conversation = start(client, "旅行")
    tokyo = post(client, conversation, "明日は 東京タワー に行きます")
    korean = post(client, conversation, "서울 여행 계획")

    assert message_ids(client, "東京") == [tokyo]
    assert message_ids(client, "東京タワー") == [tokyo]
    assert message_ids(client, "서울") == [korean]
    assert message_ids(client, "旅行") == [None]
    # A run of CJK characters is one word: its middle is not found (documented limit).
    assert message_ids(client, "タワー") == []
    assert marked(search(client, "東京")["data"][0]["snippet"]) == ["東京タワー"]


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "sentence"),
    [
        ("", "String should have at least 1 character"),
        ("x" * 201, "String should have at most 200 characters"),
        ("a\x00b", "text must not contain NUL"),
    ],
)
def test_a_bad_query_is_said_in_characters(client: TestClient, q: str, sentence: str) -> None:
    response = client.get("/api/alice/search", params={"q": q}, headers=auth())
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert sentence in error["msg"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 201},
        {"q": "a\x00b"},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 101},
        {"q": "x", "cursor": "not a cursor"},
        {"q": "x", "cursor": base64.urlsafe_b64encode(b"[1,2,3]").decode()},
        {"q": "x", "cursor": base64.urlsafe_b64encode(b"[1,1,0,NaN,1]").decode()},
        {"q": "x", "cursor": base64.urlsafe_b64encode(b"[1,1,2,0.5,1]").decode()},
        {"q": "x", "cursor": base64.urlsafe_b64encode(b"[1e30,1,0,0.5,1]").decode()},
        {"q": "x", "cursor": base64.urlsafe_b64encode(b"[-1,1,0,0.5,1]").decode()},
        {"q": "x", "cursor": base64.urlsafe_b64encode(b"[1,99999999999999,0,0.5,1]").decode()},
        {"q": "x", "cursor": base64.urlsafe_b64encode(b'{"a":1}').decode()},
    ],
)
def test_bad_parameters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/api/alice/search", params=params, headers=auth())
    assert response.status_code == 422, response.text


def test_a_query_of_200_characters_is_accepted(client: TestClient) -> None:
    assert search_response(client, "x" * 200).status_code == 200


# --- freshness ----------------------------------------------------------------------------


def test_a_new_message_is_found_at_once(client: TestClient) -> None:
    conversation = start(client)
    assert message_ids(client, "zucchini") == []
    message = post(client, conversation, "zucchini soup", role="assistant")

    [hit] = search(client, "zucchini")["data"]
    assert hit["message_id"] == message and hit["role"] == "assistant"


def test_a_deleted_conversation_is_never_found(client: TestClient, engine: Engine) -> None:
    conversation = start(client, "Zucchini recipes")
    post(client, conversation, "zucchini soup")
    kept = start(client, "Kept")
    kept_message = post(client, kept, "zucchini bread")
    assert len(search(client, "zucchini")["data"]) == 3

    response = client.delete(f"/api/alice/conversations/{conversation}", headers=auth())
    assert response.status_code == 204

    assert message_ids(client, "zucchini") == [kept_message]
    assert search(client, "recipes")["data"] == []
    assert_search_index_consistent(engine)


def test_a_renamed_title_and_an_edited_message_are_found_by_their_new_words(
    client: TestClient, engine: Engine
) -> None:
    conversation = start(client, "Old title")
    message = post(client, conversation, "old words")
    client.patch(
        f"/api/alice/conversations/{conversation}", json={"title": "Fresh"}, headers=auth()
    )
    # No route edits a message; the index follows whatever writes the table.
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE messages SET content = 'new words' WHERE id = :id"), {"id": message}
        )

    assert message_ids(client, "old") == []
    assert message_ids(client, "fresh") == [None]
    assert message_ids(client, "new") == [message]
    assert_search_index_consistent(engine)


def test_a_chat_turn_is_searchable(client: TestClient) -> None:
    response = client.post(
        "/api/alice/chat", json={"message": "Add a task to buy zucchini"}, headers=auth()
    )
    assert response.status_code == 200, response.text
    body = response.json()

    hits = search(client, "zucchini")["data"]

    # The title (made from the message), the user's message and the assistant's answer.
    assert [h["message_id"] for h in hits][0] is None
    assert body["message_id"] in [h["message_id"] for h in hits]
    assert {h["role"] for h in hits} == {None, "user", "assistant"}


def assert_search_index_consistent(engine: Engine) -> None:
    """SQLite: FTS5 checks its index against the content (the rows of the tables)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as connection:
        for fts in ("messages_fts", "conversations_fts"):
            connection.execute(
                text(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
            )


# --- snippets -----------------------------------------------------------------------------


def test_snippets_escape_markup_and_mark_the_words(client: TestClient) -> None:
    conversation = start(client)
    post(
        client,
        conversation,
        "<script>alert('groceries')</script> and <b>bold groceries</b> & <img src=x onerror=y>",
    )

    [hit] = search(client, "groceries")["data"]

    snippet = hit["snippet"]
    assert marked(snippet) == ["groceries", "groceries"]
    assert re.sub(r"</?mark>", "", snippet) == (
        "&lt;script&gt;alert(&#x27;groceries&#x27;)&lt;/script&gt; and &lt;b&gt;bold groceries"
        "&lt;/b&gt; &amp; &lt;img src=x onerror=y&gt;"
    )


def test_snippets_are_one_line_and_keep_tag_like_text(client: TestClient) -> None:
    conversation = start(client)
    post(client, conversation, "first line\n\n<b>groceries</b>\tlist\r\nlast")

    [hit] = search(client, "groceries")["data"]

    assert hit["snippet"] == "first line &lt;b&gt;<mark>groceries</mark>&lt;/b&gt; list last"


# --- pages --------------------------------------------------------------------------------


def test_walking_the_pages_visits_every_hit_once_in_order(client: TestClient) -> None:
    expected_total = 0
    for index, size in enumerate((1, 7, 3, 7, 2)):
        conversation = start(client, f"Garden {index}" if index % 2 else f"Other {index}")
        expected_total += 1 if index % 2 else 0
        for n in range(size):
            post(client, conversation, "garden " * (n % 3 + 1) + FILLER)
            expected_total += 1
    everything = search(client, "garden", limit=100)
    assert len(everything["data"]) == expected_total
    assert everything["has_more"] is False

    walked: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 4} if cursor is None else {"limit": 4, "cursor": cursor}
        page = search(client, "garden", **params)
        walked.extend(page["data"])
        assert page["has_more"] is (page["next_cursor"] is not None)
        if not page["has_more"]:
            break
        assert len(page["data"]) == 4
        cursor = page["next_cursor"]

    assert walked == everything["data"]
    keys = [(h["conversation_id"], h["message_id"]) for h in walked]
    assert len(set(keys)) == len(keys)
    # A conversation's hits stay together.
    seen: list[int] = []
    for hit in walked:
        if not seen or seen[-1] != hit["conversation_id"]:
            assert hit["conversation_id"] not in seen
            seen.append(hit["conversation_id"])


def test_the_cursor_is_opaque_base64_of_the_sort_key(client: TestClient) -> None:
    conversation = start(client)
    for _ in range(3):
        post(client, conversation, "garden")

    cursor = search(client, "garden", limit=1)["next_cursor"]

    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    score, conversation_id, is_title, rank, message_id = json.loads(raw)
    assert (conversation_id, is_title) == (conversation, 0)
    assert score > rank > 0  # the conversation's three hits, and the first one's own
    assert message_id > 0


def test_the_search_reads_the_owner_led_indexes(client: TestClient, engine: Engine) -> None:
    """PostgreSQL uses an expression index only for the very same expression; SQLite's search
    goes through the FTS5 tables."""
    with engine.begin() as connection:
        connection.execute(
            insert(User), [{"id": f"user{n}", "created_at": utcnow()} for n in range(30)]
        )
        connection.execute(
            insert(Conversation),
            [
                {
                    "id": n + 1,
                    "user_id": f"user{n}",
                    "title": f"garden {n}",
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
                for n in range(30)
            ],
        )
        connection.execute(
            insert(Message),
            [
                {
                    "user_id": f"user{n % 30}",
                    "conversation_id": n % 30 + 1,
                    "role": "user",
                    "content": f"garden {FILLER} {n}",
                    "created_at": utcnow(),
                }
                for n in range(3000)
            ],
        )
        connection.execute(text("ANALYZE"))
    page = search(client, "garden", user="user7", limit=100)
    assert len(page["data"]) == 100 and page["has_more"]  # the title and 100 messages

    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            # For a user with few messages the planner rightly prefers the btree on user_id;
            # with it (and sequential scans) out of the way, the GIN indexes must serve both
            # conditions, which they do only for the very same expression. Rolled back.
            for index in (
                "ix_messages_user_id",
                "ix_messages_user_id_turn_id",
                "ix_conversations_user_id",
                "ix_conversations_user_id_updated_at_id",
                "ix_conversations_user_id_archived_updated_at_id",
            ):
                session.execute(text(f"DROP INDEX {index}"))
            session.execute(text("SET LOCAL enable_seqscan = off"))
            sql = search_service.postgresql_query(after=False)
            params = {"user_id": "user7", "tsquery": "'garden':*", "limit": 20}
            params["ranked_matches"] = search_service.RANKED_MATCHES
            plan = list(session.execute(text(f"EXPLAIN {sql}"), params).scalars())
            session.rollback()
            for index in ("ix_messages_user_id_content_tsv", "ix_conversations_user_id_title_tsv"):
                [at] = [n for n, line in enumerate(plan) if f"Index Scan on {index}" in line]
                condition = plan[at + 1]
                assert "Index Cond:" in condition and "user_id" in condition, condition
                assert "to_tsvector('todo_search'::regconfig, translate(" in condition
                assert "@@ '''garden'':*'::tsquery" in condition
        else:
            sql = search_service.sqlite_query(after=False)
            search_service.register_search_rank(session)
            terms = query_terms("garden")
            params = {
                "user_id": "user7",
                "message_match": search_service.to_fts5_match("user7", "content", terms),
                "title_match": search_service.to_fts5_match("user7", "title", terms),
                "terms": '[["garden", true]]',
                "limit": 20,
                "ranked_matches": search_service.RANKED_MATCHES,
            }
            plan = "\n".join(
                row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params)
            )
            assert "SCAN messages_fts VIRTUAL TABLE" in plan
            assert "SCAN conversations_fts VIRTUAL TABLE" in plan
