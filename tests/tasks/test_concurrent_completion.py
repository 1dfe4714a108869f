"""Completions of one repeating task at the same moment each move it on once: none is lost."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from backend.app.models import User
from backend.app.tasks import service as task_service

COMPLETERS = 4


def test_concurrent_completions_of_a_repeating_task_each_move_it_one_day(engine: Engine) -> None:
    first_due = datetime(2031, 1, 1, 9, 0, tzinfo=UTC)
    with Session(engine) as session:
        session.add(User(id="alice"))
        session.commit()
        task = task_service.create_task(
            session, "alice", "Daily", None, due_at=first_due, recurrence="FREQ=DAILY"
        )
        task_id = task.id

    def complete() -> bool:
        with Session(engine) as session:
            task = task_service.get_task(session, "alice", task_id)
            return task_service.complete_task(session, task).completed

    with ThreadPoolExecutor(COMPLETERS) as pool:
        results = list(pool.map(lambda _: complete(), range(COMPLETERS)))

    assert results == [False] * COMPLETERS
    with Session(engine) as session:
        task = task_service.get_task(session, "alice", task_id)
        assert task.completed is False
        assert task.due_at == first_due + timedelta(days=COMPLETERS)
