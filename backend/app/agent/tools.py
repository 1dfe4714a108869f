"""The one registry of task tools, read by the rules agent, the model loop and the MCP server.

Each tool is a typed function over the task service plus a pydantic model of its arguments, from
which its JSON schema is derived. The user always comes from the ToolContext (the authenticated
request), never from the arguments: no tool has a `user_id` argument.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session

from backend.app.errors import NotFound
from backend.app.tasks import service as task_service
from backend.app.tasks.schemas import TaskStatus
from backend.app.text import Description, Title

logger = logging.getLogger(__name__)

MAX_TASK_ID = 2**31 - 1  # the INTEGER column's range; larger ids cannot exist


@dataclass
class ToolContext:
    session: Session
    user_id: str


@dataclass
class ToolCall:
    """One executed call, as stored in `messages.tool_calls` and returned by the chat API."""

    name: str
    arguments: dict[str, Any]
    result: Any

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddTaskArguments(_Arguments):
    title: Title = Field(description="Short title of the task, e.g. 'Buy groceries'.")
    description: Description | None = Field(default=None, description="Optional details.")


class ListTasksArguments(_Arguments):
    # A Literal (not the enum) keeps the schema inline, without a $ref models trip over.
    status: Literal["all", "pending", "completed"] = Field(
        default="all", description="Which tasks: all, pending or completed."
    )


class TaskIdArguments(_Arguments):
    task_id: int = Field(ge=1, le=MAX_TASK_ID, description="The id of the task.")


class UpdateTaskArguments(TaskIdArguments):
    title: Title | None = Field(default=None, description="The new title.")
    description: Description | None = Field(default=None, description="The new description.")


def _changed(task, status: str) -> dict[str, Any]:
    return {"task_id": task.id, "status": status, "title": task.title}


def add_task(context: ToolContext, args: AddTaskArguments) -> dict[str, Any]:
    task = task_service.create_task(
        context.session, context.user_id, args.title, args.description or None
    )
    return _changed(task, "created")


def list_tasks(context: ToolContext, args: ListTasksArguments) -> list[dict[str, Any]]:
    tasks = task_service.list_tasks(
        context.session, context.user_id, TaskStatus(args.status)
    )
    return [
        {"id": t.id, "title": t.title, "description": t.description, "completed": t.completed}
        for t in tasks
    ]


def complete_task(context: ToolContext, args: TaskIdArguments) -> dict[str, Any]:
    task = task_service.get_task(context.session, context.user_id, args.task_id)
    if not task.completed:
        task = task_service.update_task(context.session, task, {"completed": True})
    return _changed(task, "completed")


def delete_task(context: ToolContext, args: TaskIdArguments) -> dict[str, Any]:
    task = task_service.get_task(context.session, context.user_id, args.task_id)
    result = _changed(task, "deleted")
    task_service.delete_task(context.session, task)
    return result


def update_task(context: ToolContext, args: UpdateTaskArguments) -> dict[str, Any]:
    changes = args.model_dump(include={"title", "description"}, exclude_none=True)
    if not changes:
        return _failure("give a new title or description to update the task", "nothing_to_change")
    task = task_service.get_task(context.session, context.user_id, args.task_id)
    task = task_service.update_task(context.session, task, changes)
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


@dataclass
class ToolRunner:
    """Runs tools for one user and records each call, in order, for the reply and the database."""

    context: ToolContext
    calls: list[ToolCall] = field(default_factory=list)
    # Called with each finished call; the streaming chat turn uses it to emit `tool_call` events.
    on_call: Callable[[ToolCall], None] | None = None

    def __call__(self, name: str, arguments: dict[str, Any]) -> Any:
        result = execute_tool(self.context, name, arguments)
        # Every tool has committed what it changed; this ends the read that built the result,
        # so the connection goes back to the pool before the model's next round (see run_agent).
        self.context.session.rollback()
        self.record(name, arguments, result)
        return result

    def record(self, name: str, arguments: dict[str, Any], result: Any) -> None:
        """Record a call that was answered without running (e.g. unparseable arguments)."""
        call = ToolCall(name=name, arguments=arguments, result=result)
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
