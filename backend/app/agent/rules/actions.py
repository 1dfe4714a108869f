"""What each action does once the request is understood: resolve, call the tools, say so.

Each reads the typed `code` of a failed tool call ("not_found", …), never its wording. A
request naming several tasks makes one call each and one reply naming them all.
"""

from datetime import datetime, timedelta
from typing import Any

from backend.app.agent.rules import replies
from backend.app.agent.rules.parse import NewTask
from backend.app.agent.rules.resolve import (
    COMPLETE,
    DELETE,
    DESCRIBE,
    RESCHEDULE,
    Action,
    Target,
    Turn,
    error_code,
    rename,
    resolve,
)
from backend.app.text import TITLE_MAX

_MISSING = {"not_found", "invalid_arguments"}  # an id out of range is as missing as any


def _failure(result: dict[str, Any], target: Target) -> str:
    if error_code(result) in _MISSING:
        return replies.not_found(target.task_id)
    return replies.failed(str(result["error"]))


def add(turn: Turn, tasks: list[NewTask], description: str | None) -> str:
    if any(len(t.title) > TITLE_MAX for t in tasks):
        return replies.TOO_LONG
    results: list[dict[str, Any]] = []
    for task in tasks:
        arguments: dict[str, Any] = {"title": task.title, **task.arguments}
        if description:
            arguments["description"] = description
        result = turn.tools("add_task", arguments)
        if error_code(result):
            done = replies.added(results) + " " if results else ""
            return done + replies.failed(str(result["error"]))
        results.append({**result, **task.arguments})
    return replies.added(results, turn.now)


def _each(
    turn: Turn, targets: list[Target], tool: str, extra: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Call `tool` for every target: the results that succeeded, and the failure replies."""
    succeeded: list[dict[str, Any]] = []
    failures: list[str] = []
    for target in targets:
        result = turn.tools(tool, {"task_id": target.task_id, **extra})
        if error_code(result):
            failures.append(_failure(result, target))
        else:
            succeeded.append(result)
    return succeeded, failures


def _joined(*sentences: str) -> str:
    return " ".join(s for s in sentences if s)


def complete(turn: Turn, ref: str) -> str:
    targets = resolve(turn, ref, COMPLETE)
    if isinstance(targets, str):
        return targets
    # Found by title and already done: nothing to change, and say so.
    already = [t for t in targets if t.completed]
    todo = [t for t in targets if not t.completed]
    succeeded, failures = _each(turn, todo, "complete_task", {})
    # Named by id, its state was unknown until the tool said it was done already.
    already += [
        Target(r["task_id"], r["title"], True) for r in succeeded if r.get("already_completed")
    ]
    succeeded = [r for r in succeeded if not r.get("already_completed")]
    return _joined(
        replies.completed([r["title"] for r in succeeded]) if succeeded else "",
        replies.already_complete([t.title or "" for t in already]) if already else "",
        *failures,
    )


def delete(turn: Turn, ref: str) -> str:
    targets = resolve(turn, ref, DELETE)
    if isinstance(targets, str):
        return targets
    succeeded, failures = _each(turn, targets, "delete_task", {})
    return _joined(replies.deleted([r["title"] for r in succeeded]) if succeeded else "", *failures)


def _one(turn: Turn, ref: str, action: Action) -> Target | str:
    targets = resolve(turn, ref, action)
    if isinstance(targets, str):
        return targets
    if len(targets) > 1:
        return replies.which_pronoun(action.verb)
    return targets[0]


def retitle(turn: Turn, ref: str, new_title: str) -> str:
    if len(new_title) > TITLE_MAX:
        return replies.TOO_LONG
    target = _one(turn, ref, rename(new_title))
    if isinstance(target, str):
        return target
    result = turn.tools("update_task", {"task_id": target.task_id, "title": new_title})
    if error_code(result):
        return _failure(result, target)
    return replies.renamed(result)


def change_details(turn: Turn, ref: str, details: dict[str, Any]) -> str:
    target = _one(turn, ref, RESCHEDULE)
    if isinstance(target, str):
        return target
    result = turn.tools("update_task", {"task_id": target.task_id, **details})
    if error_code(result):
        return _failure(result, target)
    return replies.details_changed({**result, **details}, turn.now)


def describe(turn: Turn, ref: str, description: str) -> str:
    target = _one(turn, ref, DESCRIBE)
    if isinstance(target, str):
        return target
    result = turn.tools("update_task", {"task_id": target.task_id, "description": description})
    if error_code(result):
        return _failure(result, target)
    return replies.described(result)


def show(turn: Turn, status: str) -> str:
    tasks = turn.tools("list_tasks", {"status": status})
    if error_code(tasks):
        return replies.failed(str(tasks["error"]))
    return replies.listing(status, tasks, turn.now)


def _due_window(window: str, now: datetime) -> dict[str, str]:
    """list_tasks filters for a window of days in the user's zone (dates: whole days)."""
    today = now.date()
    if window == "overdue":
        return {"due_before": now.isoformat()}
    first = {"today": today, "tomorrow": today + timedelta(days=1)}.get(window)
    if first is not None:
        return {"due_after": first.isoformat(), "due_before": first.isoformat()}
    monday = today - timedelta(days=today.weekday())
    if window == "next week":
        monday += timedelta(days=7)
        return {"due_after": monday.isoformat(), "due_before": (monday + timedelta(6)).isoformat()}
    # "this week": from today to Sunday, what is already overdue left to "what's overdue?"
    return {"due_after": today.isoformat(), "due_before": (monday + timedelta(6)).isoformat()}


def show_due(turn: Turn, window: str) -> str:
    tasks = turn.tools("list_tasks", {"status": "pending", **_due_window(window, turn.now)})
    if error_code(tasks):
        return replies.failed(str(tasks["error"]))
    return replies.due_listing(window, tasks, turn.now)
