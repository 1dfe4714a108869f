"""The task routes of API.md, through HTTP: what a task-list client sends and sees."""

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.app.limits import MAX_BODY_BYTES
from tests.conftest import auth

TASKS = "/api/alice/tasks"
OFFSET_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)")
TASK_FIELDS = {
    "id",
    "user_id",
    "title",
    "description",
    "completed",
    "due_at",
    "priority",
    "tags",
    "recurrence",
    "created_at",
    "updated_at",
}


def create(client: TestClient, title: str = "Buy milk", **fields: Any) -> dict[str, Any]:
    response = client.post(TASKS, json={"title": title, **fields}, headers=auth("alice"))
    assert response.status_code == 201, response.text
    return response.json()


def get(client: TestClient, task_id: int) -> dict[str, Any]:
    response = client.get(f"{TASKS}/{task_id}", headers=auth("alice"))
    assert response.status_code == 200, response.text
    return response.json()


def listed(client: TestClient, status: str | None = None) -> list[dict[str, Any]]:
    params = {} if status is None else {"status": status}
    response = client.get(TASKS, params=params, headers=auth("alice"))
    assert response.status_code == 200, response.text
    return response.json()


def timestamp(value: str) -> datetime:
    """A wire timestamp: ISO-8601 with a UTC offset, never naive."""
    assert OFFSET_TIMESTAMP.fullmatch(value), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    return parsed


def assert_validation_error(response, *field: str | int) -> None:
    """422 with FastAPI's `detail` list; `field` is the start of an error's `loc` when given."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for error in detail:
        assert {"loc", "msg", "type"} <= error.keys()
    if field:
        assert any(tuple(error["loc"][: len(field)]) == field for error in detail), detail


# --- list ---------------------------------------------------------------------------------


def test_a_new_user_has_no_tasks(client: TestClient) -> None:
    assert listed(client) == []


def test_list_is_oldest_first_and_filters_by_status(client: TestClient) -> None:
    first, second, third = create(client, "one"), create(client, "two"), create(client, "three")
    client.patch(f"{TASKS}/{second['id']}/complete", headers=auth("alice"))

    assert [t["title"] for t in listed(client)] == ["one", "two", "three"]
    assert [t["title"] for t in listed(client, "all")] == ["one", "two", "three"]
    assert [t["id"] for t in listed(client, "pending")] == [first["id"], third["id"]]
    assert [t["id"] for t in listed(client, "completed")] == [second["id"]]
    assert all(set(t) == TASK_FIELDS for t in listed(client))


def test_an_unknown_status_filter_is_422(client: TestClient) -> None:
    response = client.get(TASKS, params={"status": "done"}, headers=auth("alice"))
    assert_validation_error(response, "query", "status")


# --- create and get -----------------------------------------------------------------------


def test_create_answers_201_with_the_trimmed_title_and_the_stored_task(
    client: TestClient,
) -> None:
    response = client.post(TASKS, json={"title": "  Buy milk \n"}, headers=auth("alice"))

    assert response.status_code == 201
    task = response.json()
    assert set(task) == TASK_FIELDS
    assert task["title"] == "Buy milk"
    assert task["description"] is None
    assert task["completed"] is False
    assert task["user_id"] == "alice"
    assert isinstance(task["id"], int)
    assert timestamp(task["created_at"]) == timestamp(task["updated_at"])
    assert get(client, task["id"]) == task


def test_create_with_a_description(client: TestClient) -> None:
    task = create(client, "Pay bills", description="electricity and water")
    assert get(client, task["id"])["description"] == "electricity and water"


def test_an_empty_description_is_stored_as_null(client: TestClient) -> None:
    assert create(client, description="")["description"] is None


def test_unknown_fields_are_ignored_and_never_set_the_owner_or_the_id(
    client: TestClient,
) -> None:
    create(client, "mine first")  # so that ids 1 and 2 are taken by alice
    body = {"title": "sneaky", "user_id": "bob", "id": 1, "completed": True, "colour": "red"}
    response = client.post(TASKS, json=body, headers=auth("alice"))

    assert response.status_code == 201
    task = response.json()
    assert task["user_id"] == "alice"
    assert task["id"] != 1
    assert task["completed"] is False
    assert "colour" not in task
    assert [t["title"] for t in listed(client)] == ["mine first", "sneaky"]
    bobs = client.get("/api/bob/tasks", headers=auth("bob"))
    assert bobs.status_code == 200 and bobs.json() == []


def test_an_update_never_moves_a_task_to_another_owner_or_id(client: TestClient) -> None:
    task = create(client)
    body = {"title": "renamed", "user_id": "bob", "id": task["id"] + 100}
    response = client.patch(f"{TASKS}/{task['id']}", json=body, headers=auth("alice"))

    assert response.status_code == 200
    assert response.json()["id"] == task["id"]
    assert response.json()["user_id"] == "alice"
    assert get(client, task["id"])["title"] == "renamed"
    assert client.get("/api/bob/tasks", headers=auth("bob")).json() == []


def test_a_missing_task_is_404_with_a_sentence(client: TestClient) -> None:
    response = client.get(f"{TASKS}/4242", headers=auth("alice"))
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "not found" in detail


@pytest.mark.parametrize(
    "title",
    ["Café crème ☕", "日本語のタスク", "Überprüfung der Größe", "🎉👍🏽 party", "Ωμέγα — ñandú"],
)
def test_unicode_titles_and_descriptions_round_trip(client: TestClient, title: str) -> None:
    task = create(client, title, description=f"{title} / 说明 / ✅")
    assert task["title"] == title
    assert get(client, task["id"])["title"] == title
    assert get(client, task["id"])["description"] == f"{title} / 说明 / ✅"
    assert listed(client)[0]["title"] == title


# --- title and description limits ---------------------------------------------------------


@pytest.mark.parametrize("title", ["", " ", "   \t\n  "])
def test_an_empty_or_blank_title_is_422(client: TestClient, title: str) -> None:
    response = client.post(TASKS, json={"title": title}, headers=auth("alice"))
    assert_validation_error(response, "body", "title")
    assert listed(client) == []


def test_a_missing_title_is_422(client: TestClient) -> None:
    response = client.post(TASKS, json={"description": "no title"}, headers=auth("alice"))
    assert_validation_error(response, "body", "title")


@pytest.mark.parametrize("char", ["a", "é", "日", "🎉"])
def test_a_title_of_200_characters_is_accepted_and_201_is_422(
    client: TestClient, char: str
) -> None:
    assert create(client, char * 200)["title"] == char * 200

    response = client.post(TASKS, json={"title": char * 201}, headers=auth("alice"))
    assert_validation_error(response, "body", "title")
    assert len(listed(client)) == 1


def test_the_title_length_counts_after_trimming(client: TestClient) -> None:
    task = create(client, "   " + "x" * 200 + "  \n")
    assert task["title"] == "x" * 200
    assert get(client, task["id"])["title"] == "x" * 200


def test_a_description_of_1000_characters_is_accepted_and_1001_is_422(
    client: TestClient,
) -> None:
    assert create(client, description="d" * 1000)["description"] == "d" * 1000

    response = client.post(
        TASKS, json={"title": "t", "description": "d" * 1001}, headers=auth("alice")
    )
    assert_validation_error(response, "body", "description")
    assert len(listed(client)) == 1


@pytest.mark.parametrize(
    "body", [{"title": "a\x00b"}, {"title": "ok", "description": "nul \x00 inside"}]
)
def test_a_nul_character_is_422_on_create(client: TestClient, body: dict[str, str]) -> None:
    response = client.post(TASKS, json=body, headers=auth("alice"))
    assert_validation_error(response, "body")
    assert listed(client) == []


@pytest.mark.parametrize("body", [{"title": "a\x00b"}, {"description": "\x00"}])
def test_a_nul_character_is_422_on_update(client: TestClient, body: dict[str, str]) -> None:
    task = create(client)
    response = client.patch(f"{TASKS}/{task['id']}", json=body, headers=auth("alice"))
    assert_validation_error(response, "body")
    assert get(client, task["id"]) == task


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "a\\ud800b"}',  # a lone surrogate: valid JSON, no UTF-8 form
        b'{"title": "ok", "description": "\\udfff"}',
        b'{"title": NaN}',  # Python's JSON parser accepts it; JSON responses cannot carry it
    ],
)
def test_input_that_json_cannot_echo_is_422_not_500(client: TestClient, raw: bytes) -> None:
    headers = {**auth("alice"), "Content-Type": "application/json"}
    response = client.post(TASKS, content=raw, headers=headers)
    assert_validation_error(response, "body")
    assert listed(client) == []


# --- wrong types and malformed bodies -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 123}, ("body", "title")),
        ({"title": None}, ("body", "title")),
        ({"title": ["a"]}, ("body", "title")),
        ({"title": "ok", "description": 5}, ("body", "description")),
        ([{"title": "in a list"}], ("body",)),
        ("just a string", ("body",)),
    ],
)
def test_wrong_types_on_create_are_422_with_the_detail_list(
    client: TestClient, body: Any, field: tuple[str, ...]
) -> None:
    response = client.post(TASKS, json=body, headers=auth("alice"))
    assert_validation_error(response, *field)
    assert listed(client) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"completed": "maybe"}, ("body", "completed")),
        ({"completed": None}, ("body", "completed")),
        ({"title": 123}, ("body", "title")),
        ({"title": None}, ("body", "title")),
        ([{"title": "x"}], ("body",)),
    ],
)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_wrong_types_on_update_are_422_and_change_nothing(
    client: TestClient, method: str, body: Any, field: tuple[str, ...]
) -> None:
    task = create(client, description="keep me")
    response = client.request(method, f"{TASKS}/{task['id']}", json=body, headers=auth("alice"))
    assert_validation_error(response, *field)
    assert get(client, task["id"]) == task


@pytest.mark.parametrize("raw", [b'{"title": "unterminated', b"title=x", b"{'title': 'x'}"])
def test_invalid_json_is_422_with_the_detail_list(client: TestClient, raw: bytes) -> None:
    headers = {**auth("alice"), "Content-Type": "application/json"}
    response = client.post(TASKS, content=raw, headers=headers)
    assert_validation_error(response)
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert listed(client) == []


def test_no_body_at_all_is_422(client: TestClient) -> None:
    assert_validation_error(client.post(TASKS, headers=auth("alice")), "body")


# --- update -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": "  New title "}, {"title": "New title"}),
        ({"description": "new words"}, {"description": "new words"}),
        ({"description": None}, {"description": None}),
        ({"completed": True}, {"completed": True}),
        ({"title": "Both", "completed": True}, {"title": "Both", "completed": True}),
        (
            {"title": "All", "description": None, "completed": True},
            {"title": "All", "description": None, "completed": True},
        ),
    ],
)
def test_an_update_changes_only_the_fields_sent(
    client: TestClient, method: str, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    task = create(client, "Old title", description="old words")
    response = client.request(method, f"{TASKS}/{task['id']}", json=changes, headers=auth("alice"))

    assert response.status_code == 200, response.text
    unchanged = {k: task[k] for k in ("id", "user_id", "title", "description", "completed")}
    assert {k: response.json()[k] for k in unchanged} == {**unchanged, **expected}
    assert response.json()["created_at"] == task["created_at"]
    assert get(client, task["id"]) == response.json()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_completed_task_can_be_reopened_by_update(client: TestClient, method: str) -> None:
    task = create(client)
    client.patch(f"{TASKS}/{task['id']}/complete", headers=auth("alice"))
    response = client.request(
        method, f"{TASKS}/{task['id']}", json={"completed": False}, headers=auth("alice")
    )
    assert response.json()["completed"] is False
    assert [t["id"] for t in listed(client, "pending")] == [task["id"]]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_validates_like_create(client: TestClient, method: str) -> None:
    task = create(client)
    url = f"{TASKS}/{task['id']}"
    for body, field in [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "d" * 1001}, "description"),
    ]:
        response = client.request(method, url, json=body, headers=auth("alice"))
        assert_validation_error(response, "body", field)
    assert get(client, task["id"]) == task


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_an_empty_update_changes_nothing(client: TestClient, method: str) -> None:
    task = create(client)
    response = client.request(method, f"{TASKS}/{task['id']}", json={}, headers=auth("alice"))
    assert response.status_code == 200
    assert response.json() == task


def test_updated_at_moves_forward_on_every_update_and_created_at_stays(
    client: TestClient,
) -> None:
    task = create(client)
    first = client.patch(f"{TASKS}/{task['id']}", json={"title": "b"}, headers=auth("alice"))
    second = client.put(f"{TASKS}/{task['id']}", json={"description": "c"}, headers=auth("alice"))
    third = client.patch(f"{TASKS}/{task['id']}/complete", headers=auth("alice"))

    stamps = [timestamp(r["updated_at"]) for r in (task, first.json(), second.json(), third.json())]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    for response in (first, second, third):
        assert response.json()["created_at"] == task["created_at"]


# --- complete toggle and delete -----------------------------------------------------------


def test_complete_toggles_both_ways(client: TestClient) -> None:
    task = create(client)
    url = f"{TASKS}/{task['id']}/complete"

    done = client.patch(url, headers=auth("alice"))
    assert done.status_code == 200
    assert done.json()["completed"] is True
    assert get(client, task["id"])["completed"] is True
    assert [t["id"] for t in listed(client, "completed")] == [task["id"]]

    undone = client.patch(url, headers=auth("alice"))
    assert undone.status_code == 200
    assert undone.json()["completed"] is False
    assert get(client, task["id"])["completed"] is False
    assert listed(client, "completed") == []
    assert {k: undone.json()[k] for k in ("title", "description")} == {
        "title": task["title"],
        "description": task["description"],
    }


def test_delete_answers_204_then_the_task_is_gone(client: TestClient) -> None:
    kept, doomed = create(client, "kept"), create(client, "doomed")
    url = f"{TASKS}/{doomed['id']}"

    response = client.delete(url, headers=auth("alice"))
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers  # no body, so no type to announce

    assert client.get(url, headers=auth("alice")).status_code == 404
    assert client.delete(url, headers=auth("alice")).status_code == 404
    assert client.patch(url, json={"title": "x"}, headers=auth("alice")).status_code == 404
    assert client.patch(f"{url}/complete", headers=auth("alice")).status_code == 404
    assert listed(client) == [kept]


# --- ids in the path ----------------------------------------------------------------------

ROUTES_WITH_AN_ID = [
    ("GET", "{id}", None),
    ("PUT", "{id}", {"title": "x"}),
    ("PATCH", "{id}", {"title": "x"}),
    ("DELETE", "{id}", None),
    ("PATCH", "{id}/complete", None),
]


@pytest.mark.parametrize("bad_id", [2**31, 10**30, -1, 0, "abc", "1.5", "1e3"])
@pytest.mark.parametrize(("method", "path", "body"), ROUTES_WITH_AN_ID)
def test_an_impossible_task_id_is_422_never_500(
    client: TestClient, method: str, path: str, body: Any, bad_id: object
) -> None:
    url = f"{TASKS}/{path.format(id=bad_id)}"
    response = client.request(method, url, json=body, headers=auth("alice"))
    assert_validation_error(response, "path", "task_id")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES_WITH_AN_ID)
def test_the_largest_possible_id_is_a_plain_404(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    url = f"{TASKS}/{path.format(id=2**31 - 1)}"
    response = client.request(method, url, json=body, headers=auth("alice"))
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


# --- body size ----------------------------------------------------------------------------


def test_a_body_over_1_mib_with_content_length_is_413(client: TestClient) -> None:
    body = b'{"title": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = {**auth("alice"), "Content-Type": "application/json"}
    response = client.post(TASKS, content=body, headers=headers)

    assert response.status_code == 413
    assert isinstance(response.json()["detail"], str)
    assert listed(client) == []


def test_a_chunked_body_over_1_mib_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "ok", "description": "'
        for _ in range(11):
            yield b"x" * 100_000
        yield b'"}'

    headers = {**auth("alice"), "Content-Type": "application/json"}
    response = client.post(TASKS, content=chunks(), headers=headers)

    assert response.status_code == 413, response.text
    assert isinstance(response.json()["detail"], str)
    assert listed(client) == []


def test_an_update_over_1_mib_is_413_and_changes_nothing(client: TestClient) -> None:
    task = create(client)
    body = {"title": "x", "description": "d" * (MAX_BODY_BYTES + 1)}
    response = client.put(f"{TASKS}/{task['id']}", json=body, headers=auth("alice"))
    assert response.status_code == 413
    assert get(client, task["id"]) == task


def test_a_large_body_under_1_mib_is_validated_not_refused(client: TestClient) -> None:
    # The limit is the documented 1 MiB, not lower: this one reaches validation.
    body = {"title": "ok", "description": "d" * (MAX_BODY_BYTES - 1000)}
    response = client.post(TASKS, json=body, headers=auth("alice"))
    assert_validation_error(response, "body", "description")
