"""Task rules, shared by the REST routes, the agents' tools and MCP. The only code that commits."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.app.errors import InvalidInput, NotFound
from backend.app.models import Task, TaskTag, utcnow
from backend.app.tasks.recurrence import next_due
from backend.app.tasks.schemas import NEEDS_DUE, TaskSort, TaskStatus
from backend.app.timezones import DEFAULT_TIMEZONE

# Concurrent completions of one recurring task each step from the due date they read; a lost
# race re-reads and steps again (bounded: each lost race means another one moved it).
_ADVANCE_ATTEMPTS = 10


class TaskFieldError(InvalidInput):
    """A change that is valid alone but not with the task's other fields (422)."""

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail)
        self.field = field


def list_tasks(
    session: Session,
    user_id: str,
    status: TaskStatus = TaskStatus.all,
    *,
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    tag: str | None = None,
    priority: str | None = None,
    sort: TaskSort = TaskSort.created,
) -> Sequence[Task]:
    """The user's tasks, filtered (due window [due_after, due_before), tag, priority, status)
    and sorted (created: oldest first; due: soonest first, none last; priority: high first)."""
    query = select(Task).where(Task.user_id == user_id)
    if status is TaskStatus.pending:
        query = query.where(col(Task.completed).is_(False))
    elif status is TaskStatus.completed:
        query = query.where(col(Task.completed).is_(True))
    if due_after is not None:
        query = query.where(col(Task.due_at) >= due_after)
    if due_before is not None:
        query = query.where(col(Task.due_at) < due_before)
    if priority is not None:
        query = query.where(Task.priority == priority)
    if tag is not None:
        # The tag index (user_id, tag, task_id) yields the ids; each task is then read by id.
        query = query.join(
            TaskTag,
            (col(TaskTag.task_id) == Task.id)
            & (col(TaskTag.user_id) == user_id)
            & (col(TaskTag.tag) == tag),
        )
    soonest_first = (col(Task.due_at).asc().nulls_last(), col(Task.id))
    order = {
        TaskSort.created: (col(Task.id),),
        TaskSort.due: soonest_first,
        TaskSort.priority: (col(Task.priority).desc(), *soonest_first),
    }[sort]
    return session.exec(query.order_by(*order)).all()


def create_task(
    session: Session,
    user_id: str,
    title: str,
    description: str | None,
    *,
    due_at: datetime | None = None,
    priority: str = "normal",
    tags: Iterable[str] = (),
    recurrence: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Task:
    """Store a new pending task for the user (fields already validated by the schemas)."""
    _check_recurrence(due_at, recurrence, "recurrence")
    now = utcnow()
    task = Task(
        user_id=user_id,
        title=title,
        description=description,
        due_at=due_at,
        priority=priority,
        recurrence=recurrence,
        timezone=timezone,
        created_at=now,
        updated_at=now,
    )
    _set_tags(task, tags)
    session.add(task)
    session.commit()
    session.refresh(task)
    return task


def get_task(session: Session, user_id: str, task_id: int) -> Task:
    """The user's task with this id; a missing and a foreign task are the same NotFound."""
    task = session.exec(select(Task).where(Task.id == task_id, Task.user_id == user_id)).first()
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def update_task(session: Session, task: Task, changes: Mapping[str, Any]) -> Task:
    """Apply the given field changes; only changed columns are written, so edits don't collide.

    `completed: true` on a pending recurring task moves it to its next occurrence instead."""
    changes = dict(changes)
    _check_recurrence(
        changes.get("due_at", task.due_at),
        changes.get("recurrence", task.recurrence),
        "due_at" if "due_at" in changes and "recurrence" not in changes else "recurrence",
    )
    complete = changes.get("completed") is True and not task.completed
    if complete:
        del changes["completed"]
    for field, value in changes.items():
        if field == "tags":
            _set_tags(task, value)
        else:
            setattr(task, field, value)
    if changes:
        task.updated_at = utcnow()
    session.add(task)
    session.commit()
    session.refresh(task)
    return complete_task(session, task) if complete else task


def complete_task(session: Session, task: Task, now: datetime | None = None) -> Task:
    """Complete a pending task. A recurring one stays pending, due at its next occurrence
    (after the current one, or after now when overdue), until its repetition ends."""
    for _attempt in range(_ADVANCE_ATTEMPTS):
        if task.completed:
            return task
        step = _next_step(task, now or utcnow())
        values = {"completed": True} if step is None else {"due_at": step[0], "recurrence": step[1]}
        # Conditional on what was read, so two concurrent completions never step from one date.
        done = session.exec(
            update(Task)
            .where(
                col(Task.id) == task.id,
                col(Task.user_id) == task.user_id,
                col(Task.completed).is_(False),
                col(Task.due_at).is_(None)
                if task.due_at is None
                else col(Task.due_at) == task.due_at,
            )
            .values(**values, updated_at=utcnow())
        )
        session.commit()
        session.refresh(task)
        if done.rowcount:
            return task
    return task


def toggle_completed(session: Session, task: Task) -> Task:
    """Flip `completed` in one UPDATE, so two concurrent toggles never cancel into a lost one;
    a pending recurring task moves on to its next occurrence instead (complete_task)."""
    if task.recurrence is not None and not task.completed:
        return complete_task(session, task)
    session.execute(
        update(Task)
        .where(col(Task.id) == task.id, col(Task.user_id) == task.user_id)
        .values(completed=~col(Task.completed), updated_at=utcnow())
    )
    session.commit()
    session.refresh(task)
    return task


def delete_task(session: Session, task: Task) -> None:
    """Delete the task for good (its tags go with it)."""
    session.delete(task)
    session.commit()


def _next_step(task: Task, now: datetime) -> tuple[datetime, str] | None:
    if task.recurrence is None or task.due_at is None:
        return None
    try:
        return next_due(task.recurrence, task.due_at, task.timezone, now)
    except LookupError:  # the repetition has ended: the task completes like any other
        return None


def _check_recurrence(due_at: datetime | None, recurrence: str | None, field: str) -> None:
    if recurrence is not None and due_at is None:
        raise TaskFieldError(NEEDS_DUE, field)


def _set_tags(task: Task, tags: Iterable[str]) -> None:
    """Replace the task's tags (already normalised), keeping the rows of tags that stay."""
    wanted = sorted(set(tags))
    kept = {row.tag: row for row in task.tag_rows if row.tag in wanted}
    task.tag_rows = [kept.get(tag) or TaskTag(tag=tag, user_id=task.user_id) for tag in wanted]
