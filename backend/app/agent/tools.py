"""The one registry of task tools, read by the rules agent, the model loop and the MCP server.

Each tool is a typed function over the task service plus a pydantic model of its arguments, from
which its JSON schema is derived. The user always comes from the ToolContext (the authenticated
request), never from the arguments: no tool has a `user_id` argument.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal

import anyio
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Engine
from sqlmodel import Session

from backend.app.agent.tool_times import DateMeans, ToolRule, ToolTime, when
from backend.app.errors import NotFound
from backend.app.models import Task
from backend.app.tasks import service as task_service
from backend.app.tasks.schemas import NEEDS_DUE, Tags, TaskStatus, normalise_tag
from backend.app.text import Description, Title
from backend.app.timezones import DEFAULT_TIMEZONE, zone
from backend.app.tool_calls import ToolCall

logger = logging.getLogger(__name__)

MAX_TASK_ID = 2**31 - 1  # the INTEGER column's range; larger ids cannot exist


@dataclass
class ToolContext:
    session: Session
    user_id: str
    # The turn's IANA time zone: how a date-only `due_at` and a naive time are read, and how
    # due dates are shown back to the model.
    timezone: str = DEFAULT_TIMEZONE


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


Priority = Literal["low", "normal", "high"]
_DUE_HELP = (
    "ISO 8601 with an offset (2026-12-04T15:00:00+01:00), or a date (2026-12-04) meaning the end "
    "of that day in the user's time zone"
)
_RULE_HELP = "RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO or FREQ=DAILY;INTERVAL=2; needs a due_at"
_TAGS_HELP = "Tags, e.g. ['work', 'errands']: up to 10, 1-32 characters each"


class AddTaskArguments(_Arguments):
    title: Title = Field(description="Short title of the task, e.g. 'Buy groceries'.")
    description: Description | None = Field(default=None, description="Optional details.")
    due_at: ToolTime | None = Field(default=None, description=f"When it is due: {_DUE_HELP}.")
    priority: Priority | None = Field(default=None, description="low, normal (default) or high.")
    tags: Tags | None = Field(default=None, description=f"{_TAGS_HELP}.")
    recurrence: ToolRule | None = Field(default=None, description=f"How it repeats: {_RULE_HELP}.")

    @model_validator(mode="after")
    def _recurrence_needs_a_due_date(self) -> "AddTaskArguments":
        if self.recurrence and not (self.due_at or "").strip():
            raise ValueError(NEEDS_DUE)
        return self


class ListTasksArguments(_Arguments):
    # A Literal (not the enum) keeps the schema inline, without a $ref models trip over.
    status: Literal["all", "pending", "completed"] = Field(
        default="all", description="Which tasks: all, pending or completed."
    )
    due_before: ToolTime | None = Field(
        default=None,
        description="Only tasks due before this time; a date includes that whole day.",
    )
    due_after: ToolTime | None = Field(
        default=None,
        description="Only tasks due at or after this time; a date includes that whole day.",
    )
    tag: Annotated[str, AfterValidator(normalise_tag)] | None = Field(
        default=None, description="Only tasks with this tag."
    )
    priority: Priority | None = Field(default=None, description="Only tasks of this priority.")


class TaskIdArguments(_Arguments):
    task_id: int = Field(ge=1, le=MAX_TASK_ID, description="The id of the task.")


class UpdateTaskArguments(TaskIdArguments):
    title: Title | None = Field(default=None, description="The new title.")
    description: Description | None = Field(
        default=None, description="The new description; an empty string removes it."
    )
    due_at: ToolTime | None = Field(
        default=None, description=f"The new due date: {_DUE_HELP}; an empty string removes it."
    )
    priority: Priority | None = Field(default=None, description="The new priority.")
    tags: Tags | None = Field(
        default=None,
        description=f"The new tags, replacing the old ones ({_TAGS_HELP}); [] removes them.",
    )
    recurrence: ToolRule | None = Field(
        default=None, description=f"The new repetition ({_RULE_HELP}); an empty string removes it."
    )


def _changed(task: Task, status: str) -> dict[str, Any]:
    return {"task_id": task.id, "status": status, "title": task.title}


def _shown(moment: datetime | None, context: ToolContext) -> str | None:
    # In the user's own zone (still with its offset), so the model reads "15:00" as they do.
    return None if moment is None else moment.astimezone(zone(context.timezone)).isoformat()


def _due(value: str | None, context: ToolContext, date_means: DateMeans = "end") -> datetime | None:
    return when(value, context.timezone, date_means=date_means) if value and value.strip() else None


def add_task(context: ToolContext, args: AddTaskArguments) -> dict[str, Any]:
    task = task_service.create_task(
        context.session,
        context.user_id,
        args.title,
        args.description or None,
        due_at=_due(args.due_at, context),
        priority=args.priority or "normal",
        tags=args.tags or (),
        recurrence=args.recurrence or None,
        timezone=context.timezone,
    )
    return _changed(task, "created")


def list_tasks(context: ToolContext, args: ListTasksArguments) -> list[dict[str, Any]]:
    tasks = task_service.list_tasks(
        context.session,
        context.user_id,
        TaskStatus(args.status),
        due_before=_due(args.due_before, context, "next"),
        due_after=_due(args.due_after, context, "start"),
        tag=args.tag,
        priority=args.priority,
    )
    return [
        {
            "id": t.id,
            "title": t.title,
            "description": t.description,
            "completed": t.completed,
            "due_at": _shown(t.due_at, context),
            "priority": t.priority,
            "tags": t.tags,
            "recurrence": t.recurrence,
        }
        for t in tasks
    ]


def complete_task(context: ToolContext, args: TaskIdArguments) -> dict[str, Any]:
    task = task_service.get_task(context.session, context.user_id, args.task_id)
    if task.completed:  # nothing changes; said, so the reply can say "already complete"
        return {**_changed(task, "completed"), "already_completed": True}
    task = task_service.complete_task(context.session, task)
    result = _changed(task, "completed")
    if not task.completed:  # a recurring task: it stays pending, due at its next occurrence
        result["next_due_at"] = _shown(task.due_at, context)
    return result


def delete_task(context: ToolContext, args: TaskIdArguments) -> dict[str, Any]:
    task = task_service.get_task(context.session, context.user_id, args.task_id)
    result = _changed(task, "deleted")
    task_service.delete_task(context.session, task)
    return result


def update_task(context: ToolContext, args: UpdateTaskArguments) -> dict[str, Any]:
    # Null means "not given" (models send every optional argument as null); "" and [] clear.
    changes = args.model_dump(exclude={"task_id"}, exclude_none=True)
    if not changes:
        return _failure(
            "give a new title, description, due_at, priority, tags or recurrence",
            "nothing_to_change",
        )
    for name in ("description", "recurrence"):
        if name in changes:
            changes[name] = changes[name] or None
    if "due_at" in changes:
        changes["due_at"] = _due(changes["due_at"], context)
    if "due_at" in changes or "recurrence" in changes:
        # "Every day at 9am" said now means 9am where the user is now.
        changes["timezone"] = context.timezone
    task = task_service.get_task(context.session, context.user_id, args.task_id)
    try:
        task = task_service.update_task(context.session, task, changes)
    except task_service.TaskFieldError as exc:
        return {"error": exc.detail}
    return _changed(task, "updated")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments_model: type[BaseModel]
    function: Callable[[ToolContext, Any], Any]

    @cached_property
    def parameters_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments, as both OpenAI tools and MCP expect it."""
        schema = self.arguments_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return schema

    def openai_definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters_schema,
            },
        }


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("add_task", "Create a new task for the user.", AddTaskArguments, add_task),
        Tool(
            "list_tasks",
            "List the user's tasks: all, pending or completed.",
            ListTasksArguments,
            list_tasks,
        ),
        Tool("complete_task", "Mark a task as completed.", TaskIdArguments, complete_task),
        Tool("delete_task", "Delete a task for good.", TaskIdArguments, delete_task),
        Tool(
            "update_task",
            "Change a task's title and/or description.",
            UpdateTaskArguments,
            update_task,
        ),
    )
}


# What kind of failure an error result is, for callers that act on it (the rules agent):
# not_found, invalid_arguments, nothing_to_change, unknown_tool, failed.
FailureCode = Literal[
    "not_found", "invalid_arguments", "nothing_to_change", "unknown_tool", "failed"
]


def _failure(error: str, code: FailureCode) -> dict[str, str]:
    """An error result: the sentence (unchanged wording, clients read it) and its typed code."""
    return {"error": error, "code": code}


def _describe_invalid(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg']}")
    return "invalid arguments: " + "; ".join(parts)


def execute_tool(context: ToolContext, name: str, arguments: Any) -> Any:
    """Run a tool; every failure becomes an `{"error": ...}` result, never an exception."""
    tool = TOOLS.get(name)
    if tool is None:
        return _failure(f"unknown tool {name!r}", "unknown_tool")
    if not isinstance(arguments, dict):
        return _failure("invalid arguments: expected a JSON object", "invalid_arguments")
    try:
        parsed = tool.arguments_model.model_validate(arguments)
    except ValidationError as exc:
        return _failure(_describe_invalid(exc), "invalid_arguments")
    try:
        return tool.function(context, parsed)
    except NotFound as exc:
        return _failure(exc.detail, "not_found")
    except Exception:  # a tool that breaks must not break the turn
        logger.exception("tool %s failed", name)
        context.session.rollback()
        return _failure(f"{name} failed unexpectedly; nothing was changed", "failed")


@dataclass(kw_only=True)
class ToolCallLog:
    """The calls of one turn, in order, for the reply and the database; `on_call` hears each
    as it completes (the streamed turn emits it as a `tool_call` event)."""

    calls: list[ToolCall] = field(default_factory=list)
    on_call: Callable[[ToolCall], object] | None = None

    def record(self, name: str, arguments: dict[str, Any], result: Any) -> None:
        """Record a call (also one answered without running, e.g. unparseable arguments)."""
        call = ToolCall.made(name, arguments, result)
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)


@dataclass
class ToolRunner(ToolCallLog):
    """Runs tools for one user in the caller's thread, on the context's session (the rules
    agent, whose whole run is one short thread hop)."""

    context: ToolContext

    def __call__(self, name: str, arguments: dict[str, Any]) -> Any:
        result = execute_tool(self.context, name, arguments)
        # Every tool has committed what it changed; this ends the read that built the result,
        # so the connection goes back to the pool at once.
        self.context.session.rollback()
        self.record(name, arguments, result)
        return result


@dataclass
class AsyncToolRunner(ToolCallLog):
    """Runs tools for one user from async code (the model loop): each call is one worker-thread
    hop with a session of its own, committed and closed before the model is asked again, so a
    turn waiting on its model holds neither a thread nor a connection."""

    engine: Engine
    user_id: str
    timezone: str = DEFAULT_TIMEZONE  # the turn's, as in ToolContext

    async def __call__(self, name: str, arguments: dict[str, Any]) -> Any:
        # Not abandoned on cancellation: a call that started finishes (and commits) whole.
        result = await anyio.to_thread.run_sync(self._execute, name, arguments)
        self.record(name, arguments, result)
        return result

    def _execute(self, name: str, arguments: dict[str, Any]) -> Any:
        with Session(self.engine) as session:
            return execute_tool(ToolContext(session, self.user_id, self.timezone), name, arguments)
