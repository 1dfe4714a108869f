"""GET /usage: turns and tokens per UTC day, from what the chat turns recorded; and the usage
of each turn shown on its assistant message."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import auth
from tests.usage.seeding import seed_turn, usage

ZERO = {"turns": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def get_usage(client: TestClient, user: str = "alice", **params: str):
    return client.get(f"/api/{user}/usage", params=params, headers=auth(user))


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_usage_sums_turns_and_tokens_per_utc_day(client: TestClient, engine: Engine) -> None:
    today = datetime.now(UTC).date()
    two_days_ago = today - timedelta(days=2)
    seed_turn(engine, "alice", usage(100, 20), at=at(two_days_ago, 0))
    seed_turn(engine, "alice", usage(300, 40, model="other-model"), at=at(two_days_ago, 23))
    seed_turn(engine, "alice", None, at=at(two_days_ago, 10))  # the built-in agent: no tokens
    seed_turn(engine, "alice", usage(7, 3), at=at(today, 0))
    seed_turn(engine, "bob", usage(1000, 1000), at=at(today, 1))  # someone else's

    response = get_usage(client)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "days": [
            {
                "date": two_days_ago.isoformat(),
                "turns": 3,
                "prompt_tokens": 400,
                "completion_tokens": 60,
                "total_tokens": 460,
            },
            {
                "date": today.isoformat(),
                "turns": 1,
                "prompt_tokens": 7,
                "completion_tokens": 3,
                "total_tokens": 10,
            },
        ],
        "total": {"turns": 4, "prompt_tokens": 407, "completion_tokens": 63, "total_tokens": 470},
    }


def test_the_default_range_is_the_last_30_days(client: TestClient, engine: Engine) -> None:
    today = datetime.now(UTC).date()
    seed_turn(engine, "alice", usage(1, 1), at=at(today - timedelta(days=29)))
    seed_turn(engine, "alice", usage(5, 5), at=at(today - timedelta(days=30)))  # 31st day back

    days = get_usage(client).json()["days"]

    assert [day["date"] for day in days] == [(today - timedelta(days=29)).isoformat()]


def test_from_and_to_bound_the_days_inclusively(client: TestClient, engine: Engine) -> None:
    for day in (1, 2, 3, 4):
        seed_turn(engine, "alice", usage(day, 0), at=at(date(2026, 3, day)))

    report = get_usage(client, **{"from": "2026-03-02", "to": "2026-03-03"}).json()

    assert [day["date"] for day in report["days"]] == ["2026-03-02", "2026-03-03"]
    assert report["total"]["prompt_tokens"] == 5
    # Only `from`: up to today; only `to`: the 30 days ending there.
    assert len(get_usage(client, **{"from": "2026-03-02"}).json()["days"]) == 3
    assert [d["date"] for d in get_usage(client, to="2026-03-01").json()["days"]] == ["2026-03-01"]


def test_no_turns_is_an_empty_report(client: TestClient) -> None:
    assert get_usage(client).json() == {"days": [], "total": ZERO}


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"from": "2026-02-30"},
        {"to": "2026-13-01"},
        {"to": "1700000000"},  # a Unix time is not a date here
        {"from": "2026-1-5"},
        {"from": "2026-03-05", "to": "2026-03-04"},
    ],
)
def test_bad_dates_are_422(client: TestClient, params: dict[str, str]) -> None:
    response = get_usage(client, **params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_the_first_days_of_the_calendar_are_not_an_error(client: TestClient) -> None:
    assert get_usage(client, to="0001-01-02").json() == {"days": [], "total": ZERO}


def test_another_users_usage_is_403(client: TestClient) -> None:
    response = client.get("/api/bob/usage", headers=auth("alice"))
    assert response.status_code == 403


def test_an_assistant_message_shows_its_turns_usage(client: TestClient, engine: Engine) -> None:
    conversation_id, _ = seed_turn(engine, "alice", usage(120, 30))
    seed_turn(engine, "alice", None, conversation_id=conversation_id)

    messages = client.get(
        f"/api/alice/conversations/{conversation_id}/messages", headers=auth()
    ).json()["data"]

    assert [m["usage"] for m in messages] == [
        None,
        {
            "model": "gpt-4o-mini",
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
        },
        None,
        None,
    ]


def test_a_missing_total_is_the_sum_of_its_parts(client: TestClient, engine: Engine) -> None:
    conversation_id, _ = seed_turn(
        engine, "alice", {"model": "m", "prompt_tokens": 10, "completion_tokens": 5}
    )
    assert get_usage(client).json()["total"]["total_tokens"] == 15
    messages = client.get(
        f"/api/alice/conversations/{conversation_id}/messages", headers=auth()
    ).json()["data"]
    assert messages[1]["usage"]["total_tokens"] == 15


def test_concurrent_turns_of_one_day_all_count(client: TestClient, engine: Engine) -> None:
    seed_turn(engine, "alice", usage(1, 1))  # the user row and the day row exist
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: seed_turn(engine, "alice", usage(10, 5)), range(40)))

    total = get_usage(client).json()["total"]

    assert total == {
        "turns": 41,
        "prompt_tokens": 401,
        "completion_tokens": 201,
        "total_tokens": 602,
    }
