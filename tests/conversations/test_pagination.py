"""Keyset pages of conversations and messages: every row exactly once, in order, even while
rows are being added; bad limits and cursors are 422, never 500."""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from backend.app.models import Conversation
from tests.conftest import auth

CONVERSATIONS = "/api/alice/conversations"


def start(client: TestClient, title: str | None = None) -> int:
    response = client.post(CONVERSATIONS, json={"title": title}, headers=auth("alice"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def post_message(client: TestClient, conversation_id: int, content: str = "hi") -> int:
    response = client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages",
        json={"role": "user", "content": content},
        headers=auth("alice"),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def walk(
    client: TestClient,
    url: str,
    limit: int,
    between_pages: Callable[[int], None] | None = None,
    **params: Any,
) -> list[int]:
    """Follow next_cursor to the end; the ids in the order seen. Checks each page's shape."""
    seen: list[int] = []
    cursor: str | None = None
    for page_number in range(1000):
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=query, headers=auth("alice"))
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"data", "has_more", "next_cursor"}
        assert len(page["data"]) <= limit
        seen += [row["id"] for row in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return seen
        assert page["data"], "a page that promises more must not be empty"
        assert isinstance(page["next_cursor"], str) and page["next_cursor"]
        cursor = page["next_cursor"]
        if between_pages is not None:
            between_pages(page_number)
    raise AssertionError("the walk never ended")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64_json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def assert_bad_query(response, name: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all({"loc", "msg", "type"} <= error.keys() for error in detail)
    assert any(error["loc"] == ["query", name] for error in detail), detail


# --- conversations ------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_conversation_pages_visit_every_row_once_most_recent_first(
    client: TestClient, limit: int
) -> None:
    ids = [start(client, f"c{n}") for n in range(8)]
    post_message(client, ids[2])  # the oldest ones, once written to, move to the top
    post_message(client, ids[0])
    expected = [ids[0], ids[2], *reversed(ids[3:]), ids[1]]

    assert walk(client, CONVERSATIONS, limit) == expected


@pytest.mark.parametrize("limit", [1, 3])
def test_conversations_with_the_same_updated_at_are_each_visited_once(
    client: TestClient, session: Session, limit: int
) -> None:
    # Rows written in the same instant tie on updated_at; the id breaks the tie.
    ids = [start(client) for _ in range(7)]
    same_instant = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    session.execute(update(Conversation).values(updated_at=same_instant))
    session.commit()

    assert walk(client, CONVERSATIONS, limit) == ids[::-1]


@pytest.mark.parametrize("limit", [1, 3])
def test_conversations_created_while_walking_never_cause_duplicates_or_skips(
    client: TestClient, limit: int
) -> None:
    original = [start(client, f"c{n}") for n in range(7)]
    created: list[int] = []

    seen = walk(client, CONVERSATIONS, limit, between_pages=lambda _: created.append(start(client)))

    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in original] == original[::-1]
    assert created  # the walk really had rows added under it
    assert walk(client, CONVERSATIONS, 100)[: len(created)] == created[::-1]


def test_conversation_pages_default_to_20(client: TestClient) -> None:
    ids = [start(client) for _ in range(21)]
    page = client.get(CONVERSATIONS, headers=auth("alice")).json()
    assert [c["id"] for c in page["data"]] == ids[::-1][:20]
    assert page["has_more"] is True
    rest = client.get(
        CONVERSATIONS, params={"cursor": page["next_cursor"]}, headers=auth("alice")
    ).json()
    assert [c["id"] for c in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False and rest["next_cursor"] is None


def test_an_exactly_full_last_page_says_there_is_no_more(client: TestClient) -> None:
    for _ in range(3):
        start(client)
    page = client.get(CONVERSATIONS, params={"limit": 3}, headers=auth("alice")).json()
    assert len(page["data"]) == 3
    assert page["has_more"] is False and page["next_cursor"] is None


def test_no_conversations_is_one_empty_last_page(client: TestClient) -> None:
    page = client.get(CONVERSATIONS, headers=auth("alice")).json()
    assert page == {"data": [], "has_more": False, "next_cursor": None}


# --- messages -----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 100])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_message_pages_visit_every_message_once_in_order(
    client: TestClient, limit: int, order: str
) -> None:
    conversation = start(client)
    other = start(client)
    ids = []
    for n in range(8):
        ids.append(post_message(client, conversation, f"m{n}"))
        post_message(client, other, "interleaved elsewhere")
    url = f"{CONVERSATIONS}/{conversation}/messages"

    expected = ids if order == "asc" else ids[::-1]
    assert walk(client, url, limit, order=order) == expected
    if order == "asc":
        assert walk(client, url, limit) == expected  # asc is the default


@pytest.mark.parametrize("limit", [1, 3])
def test_messages_appended_while_walking_oldest_first_are_seen_exactly_once(
    client: TestClient, limit: int
) -> None:
    conversation = start(client)
    original = [post_message(client, conversation, f"m{n}") for n in range(5)]
    appended: list[int] = []

    def append(page_number: int) -> None:
        if page_number < 6:  # then stop, so that the walk can catch up and end
            appended.append(post_message(client, conversation, f"new {page_number}"))

    seen = walk(client, f"{CONVERSATIONS}/{conversation}/messages", limit, between_pages=append)

    assert appended
    assert seen == original + appended


@pytest.mark.parametrize("limit", [1, 3])
def test_messages_appended_while_walking_newest_first_never_disturb_the_walk(
    client: TestClient, limit: int
) -> None:
    conversation = start(client)
    original = [post_message(client, conversation, f"m{n}") for n in range(7)]
    appended: list[int] = []

    seen = walk(
        client,
        f"{CONVERSATIONS}/{conversation}/messages",
        limit,
        between_pages=lambda n: appended.append(post_message(client, conversation, f"new {n}")),
        order="desc",
    )

    assert appended
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in original] == original[::-1]


def test_message_pages_default_to_20(client: TestClient) -> None:
    conversation = start(client)
    ids = [post_message(client, conversation) for _ in range(21)]
    url = f"{CONVERSATIONS}/{conversation}/messages"
    page = client.get(url, headers=auth("alice")).json()
    assert [m["id"] for m in page["data"]] == ids[:20]
    assert page["has_more"] is True
    assert walk(client, url, 20) == ids


def test_a_message_cursor_of_one_order_used_with_the_other_stays_in_the_conversation(
    client: TestClient,
) -> None:
    conversation = start(client)
    ids = [post_message(client, conversation) for _ in range(5)]
    url = f"{CONVERSATIONS}/{conversation}/messages"
    cursor = client.get(url, params={"limit": 2}, headers=auth("alice")).json()["next_cursor"]

    response = client.get(
        url, params={"cursor": cursor, "order": "desc", "limit": 10}, headers=auth("alice")
    )
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == [ids[0]]


# --- bad limits and cursors ---------------------------------------------------------------


@pytest.fixture
def page_urls(client: TestClient) -> list[str]:
    conversation = start(client)
    post_message(client, conversation)
    return [CONVERSATIONS, f"{CONVERSATIONS}/{conversation}/messages"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x", "", "1.5", str(2**64)])
def test_a_limit_outside_1_to_100_is_422(
    client: TestClient, page_urls: list[str], limit: str
) -> None:
    for url in page_urls:
        response = client.get(url, params={"limit": limit}, headers=auth("alice"))
        assert_bad_query(response, "limit")


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limits_1_and_100_are_accepted(
    client: TestClient, page_urls: list[str], limit: str
) -> None:
    for url in page_urls:
        response = client.get(url, params={"limit": limit}, headers=auth("alice"))
        assert response.status_code == 200
        assert len(response.json()["data"]) == 1


A_CONVERSATION_KEY = ["2026-11-25T12:00:00.000001+00:00", 1]
BAD_CURSORS_FOR_BOTH = {
    "garbage": "garbage",
    "empty": "",
    "not base64": "!!!*@#",
    "non-ascii": "éé",
    "too long": "A" * 600,
    "base64 of non-JSON": b64(b"hello, world"),
    "base64 of invalid UTF-8": b64(b"\xff\xfe\xfd"),
    "base64 of empty": b64(b""),
    "base64 of a JSON object": b64_json({"id": 1}),
    "base64 of a JSON string": b64_json("1"),
    "base64 of null": b64_json(None),
    "base64 of an empty list": b64_json([]),
    "base64 of three keys": b64_json(["2026-11-25T12:00:00+00:00", 1, 2]),
    "base64 of NaN": b64(b"[NaN]"),
    "base64 of a deep list": b64(b"[" * 300 + b"]" * 300),
}
BAD_CONVERSATION_CURSORS = {
    **BAD_CURSORS_FOR_BOTH,
    "a message cursor": b64_json([5]),
    "a huge id": b64_json(["2026-11-25T12:00:00+00:00", 10**30]),
    "id past the column": b64_json(["2026-11-25T12:00:00+00:00", 2**31]),
    "negative id": b64_json(["2026-11-25T12:00:00+00:00", -1]),
    "a fractional id": b64_json(["2026-11-25T12:00:00+00:00", 1.5]),
    "not a timestamp": b64_json(["yesterday", 1]),
    "a naive timestamp": b64_json(["2026-11-25T12:00:00", 1]),
    "past year 9999 in UTC": b64_json(["9999-12-31T23:59:59-23:59", 1]),
    "before year 1 in UTC": b64_json(["0001-01-01T00:00:00+23:59", 1]),
    "swapped": b64_json([1, "2026-11-25T12:00:00+00:00"]),
}
BAD_MESSAGE_CURSORS = {
    **BAD_CURSORS_FOR_BOTH,
    "a conversation cursor": b64_json(A_CONVERSATION_KEY),
    "a huge id": b64_json([10**30]),
    "id past the column": b64_json([2**31]),
    "negative id": b64_json([-1]),
    "a bare number": b64_json(5),
    "a string id": b64_json(["five"]),
    "Infinity": b64(b"[Infinity]"),
}


@pytest.mark.parametrize("cursor", BAD_CONVERSATION_CURSORS.values(), ids=BAD_CONVERSATION_CURSORS)
def test_a_bad_conversation_cursor_is_422_never_500(client: TestClient, cursor: str) -> None:
    start(client)
    response = client.get(CONVERSATIONS, params={"cursor": cursor}, headers=auth("alice"))
    assert_bad_query(response, "cursor")


@pytest.mark.parametrize("cursor", BAD_MESSAGE_CURSORS.values(), ids=BAD_MESSAGE_CURSORS)
def test_a_bad_message_cursor_is_422_never_500(client: TestClient, cursor: str) -> None:
    conversation = start(client)
    post_message(client, conversation)
    response = client.get(
        f"{CONVERSATIONS}/{conversation}/messages",
        params={"cursor": cursor},
        headers=auth("alice"),
    )
    assert_bad_query(response, "cursor")


def test_a_real_conversation_cursor_is_refused_by_messages_and_vice_versa(
    client: TestClient,
) -> None:
    first = start(client)
    start(client)
    for _ in range(3):
        post_message(client, first)
    messages_url = f"{CONVERSATIONS}/{first}/messages"
    conversation_cursor = client.get(
        CONVERSATIONS, params={"limit": 1}, headers=auth("alice")
    ).json()["next_cursor"]
    message_cursor = client.get(messages_url, params={"limit": 1}, headers=auth("alice")).json()[
        "next_cursor"
    ]

    response = client.get(
        messages_url, params={"cursor": conversation_cursor}, headers=auth("alice")
    )
    assert_bad_query(response, "cursor")
    response = client.get(CONVERSATIONS, params={"cursor": message_cursor}, headers=auth("alice"))
    assert_bad_query(response, "cursor")
