"""Task routes: parse, authorise through a dependency, call one service function."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from backend.app.auth.dependencies import CurrentUser
from backend.app.deps import SessionDep
from backend.app.models import Task
from backend.app.openapi import COMMON_ERRORS, NOT_FOUND
from backend.app.tasks import service as task_service
from backend.app.tasks.dependencies import OwnedTask
from backend.app.tasks.schemas import (
    IsoDatetime,
    Priority,
    TaskCreate,
    TaskPublic,
    TaskSort,
    TaskStatus,
    TaskUpdate,
    normalise_tag,
)

# The routes return the rows; their response_model says (and checks) what the client gets.
router = APIRouter(prefix="/api/{user_id}/tasks", tags=["tasks"], responses=COMMON_ERRORS)


@router.get(
    "",
    summary="List the user's tasks, filtered and sorted (oldest first by default)",
    response_model=list[TaskPublic],
)
def list_tasks(
    session: SessionDep,
    user: CurrentUser,
    status_filter: Annotated[TaskStatus, Query(alias="status")] = TaskStatus.all,
    due_before: Annotated[
        IsoDatetime | None,
        Query(description="Only tasks due before this time (exclusive), with an offset."),
    ] = None,
    due_after: Annotated[
        IsoDatetime | None,
        Query(description="Only tasks due at or after this time, with an offset."),
    ] = None,
    tag: Annotated[
        str | None,
        Query(description="Only tasks with this tag (compared lower-cased).", max_length=64),
        AfterValidator(normalise_tag),
    ] = None,
    priority: Annotated[Priority | None, Query(description="Only tasks of this priority.")] = None,
    sort: Annotated[
        TaskSort,
        Query(
            description="created: oldest first; due: soonest first, no due date last; "
            "priority: high first, then soonest due."
        ),
    ] = TaskSort.created,
) -> Sequence[Task]:
    return task_service.list_tasks(
        session,
        user.id,
        status_filter,
        due_before=due_before,
        due_after=due_after,
        tag=tag,
        priority=priority,
        sort=sort,
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Create a task", response_model=TaskPublic
)
def create_task(session: SessionDep, user: CurrentUser, body: TaskCreate) -> Task:
    return task_service.create_task(
        session,
        user.id,
        body.title,
        body.description,
        due_at=body.due_at,
        priority=body.priority,
        tags=body.tags,
        recurrence=body.recurrence,
        timezone=body.timezone,
    )


@router.get("/{task_id}", summary="Get one task", responses=NOT_FOUND, response_model=TaskPublic)
def get_task(task: OwnedTask) -> Task:
    return task


@router.put(
    "/{task_id}",
    summary="Update a task (any of its fields)",
    responses=NOT_FOUND,
    response_model=TaskPublic,
)
@router.patch(
    "/{task_id}",
    summary="Update a task (any of its fields)",
    responses=NOT_FOUND,
    response_model=TaskPublic,
)
def update_task(session: SessionDep, task: OwnedTask, body: TaskUpdate) -> Task:
    try:
        return task_service.update_task(session, task, body.model_dump(exclude_unset=True))
    except task_service.TaskFieldError as exc:
        # Shaped like every other 422 of this route: FastAPI's detail list.
        error = {"type": "value_error", "loc": ("body", exc.field), "msg": exc.detail}
        raise RequestValidationError([error]) from None


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a task",
    responses=NOT_FOUND,
    response_class=Response,  # no body, so no Content-Type either
)
def delete_task(session: SessionDep, task: OwnedTask) -> None:
    task_service.delete_task(session, task)


@router.patch(
    "/{task_id}/complete",
    summary="Toggle a task's completed flag",
    responses=NOT_FOUND,
    response_model=TaskPublic,
)
def toggle_task(session: SessionDep, task: OwnedTask) -> Task:
    return task_service.toggle_completed(session, task)
