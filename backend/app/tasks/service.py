"""Task rules, shared by the REST routes, the agents' tools and MCP. The only code that commits."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from backend.app.errors import NotFound
from backend.app.models import Task, utcnow
from backend.app.tasks.schemas import TaskStatus


def list_tasks(
    session: Session, user_id: str, status: TaskStatus = TaskStatus.all
) -> Sequence[Task]:
    """The user's tasks, oldest first, filtered by status."""
    query = select(Task).where(Task.user_id == user_id)
    if status is TaskStatus.pending:
        query = query.where(Task.completed.is_(False))
    elif status is TaskStatus.completed:
        query = query.where(Task.completed.is_(True))
    return session.exec(query.order_by(Task.id)).all()


def create_task(session: Session, user_id: str, title: str, description: str | None) -> Task:
    """Store a new pending task for the user."""
    now = utcnow()
    task = Task(
        user_id=user_id, title=title, description=description, created_at=now, updated_at=now
    )
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
    """Apply the given field changes; only changed columns are written, so edits don't collide."""
    for field, value in changes.items():
        setattr(task, field, value)
    if changes:
        task.updated_at = utcnow()
    session.add(task)
    session.commit()
    session.refresh(task)
    return task


def toggle_completed(session: Session, task: Task) -> Task:
    """Flip `completed` in one UPDATE, so two concurrent toggles never cancel into a lost one."""
    session.execute(
        update(Task)
        .where(Task.id == task.id, Task.user_id == task.user_id)
        .values(completed=~Task.completed, updated_at=utcnow())
    )
    session.commit()
    session.refresh(task)
    return task


def delete_task(session: Session, task: Task) -> None:
    """Delete the task for good."""
    session.delete(task)
    session.commit()
