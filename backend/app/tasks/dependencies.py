"""OwnedTask: the only place a task id from the path becomes a row (404 if missing or foreign)."""

from typing import Annotated

from fastapi import Depends

from backend.app.auth.dependencies import CurrentUser
from backend.app.deps import SessionDep
from backend.app.ids import TaskIdPath
from backend.app.models import Task
from backend.app.tasks import service as task_service


def get_owned_task(session: SessionDep, user: CurrentUser, task_id: TaskIdPath) -> Task:
    return task_service.get_task(session, user.id, task_id)


OwnedTask = Annotated[Task, Depends(get_owned_task)]
