"""Every sentence the agent answers with, in one place, so the same situation reads the same."""

from datetime import date, datetime, time
from typing import Any

from backend.app.text import TITLE_MAX

HELP = (
    "I can help you manage your to-do list. Try:\n"
    '- "Add a task to buy groceries"\n'
    '- "Show me all my tasks", "What\'s pending?" or "What have I completed?"\n'
    '- "Mark task 3 as complete"\n'
    '- "Delete the meeting task"\n'
    "- \"Change task 1 to 'Call mom tonight'\""
)
QUESTION_HELP = (
    "Just tell me in your own words and I'll do it. " + HELP + "\n"
    'Several at once work too ("delete tasks 4 and 5"), and "it" means the task we just '
    "talked about."
)
THANKS = "Glad to help! Anything else for your to-do list?"
SHOW_HINT = 'Say "show my tasks" to see your list.'
LEFT_AS_IS = "OK, I'll leave your list as it is."
TOO_LONG = f"That title is too long: please keep it under {TITLE_MAX} characters."
ASK_TITLE = 'What should the task say? For example: "Add a task to buy groceries".'
ASK_NEW_TITLE = (
    "What should the new title be? For example: \"Rename task 2 to 'Call mom tonight'\"."
)
CANNOT_REOPEN = (
    "Sorry, I can't mark a task as not done yet: I can add, complete, rename or delete "
    "tasks. You can add it again as a new task."
)


def greeting_help() -> str:
    return "Hi! 👋 " + HELP


def empty_help() -> str:
    return "How can I help? " + HELP


def outside_help() -> str:
    return "Sorry, that's outside what I can do. " + HELP


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _clock(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def friendly_due(due_at: str, now: datetime) -> str:
    """'due tomorrow at 3:00 PM', 'due on Friday', 'due on Dec 24', 'was due yesterday'.
    `due_at`: a date (the end of that day) or ISO 8601 with an offset; shown in `now`'s zone."""
    if len(due_at) == 10:
        day, clock, past = date.fromisoformat(due_at), None, date.fromisoformat(due_at) < now.date()
    else:
        moment = datetime.fromisoformat(due_at).astimezone(now.tzinfo)
        day, past = moment.date(), moment < now
        clock = None if moment.time() >= time(23, 59, 59) else _clock(moment)  # a whole day
    ahead = (day - now.date()).days
    if ahead == 0:
        named = "today"
    elif ahead == 1:
        named = "tomorrow"
    elif ahead == -1:
        named = "yesterday"
    elif 1 < ahead < 7:
        named = f"on {day:%A}"
    else:
        named = f"on {day:%b} {day.day}" + (f", {day.year}" if day.year != now.year else "")
    return ("was due " if past else "due ") + named + (f" at {clock}" if clock else "")


def task_line(task: dict[str, Any], now: datetime | None = None) -> str:
    line = f"- #{task['id']} {task['title']}" + (" ✓" if task["completed"] else "")
    if task.get("due_at") and now is not None and not task["completed"]:
        line += f" ({friendly_due(task['due_at'], now)})"
    return line


def names(titles: list[str]) -> str:
    """'"A"', '"A" and "B"', '"A", "B" and "C"'."""
    quoted = [f'"{t}"' for t in titles]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _details(result: dict[str, Any], now: datetime | None) -> str:
    """', due tomorrow at 3:00 PM, repeating, high priority, tagged #work' for a new task."""
    said = []
    if result.get("due_at") and now is not None:
        said.append(friendly_due(result["due_at"], now))
    if result.get("recurrence"):
        said.append("repeating")
    if result.get("priority") in {"high", "low"}:
        said.append(f"{result['priority']} priority")
    if result.get("tags"):
        said.append("tagged " + " ".join(f"#{t}" for t in result["tags"]))
    return "".join(", " + s for s in said)


def added(results: list[dict[str, Any]], now: datetime | None = None) -> str:
    if len(results) == 1:
        task = results[0]
        details = _details(task, now)
        return f'Added "{task["title"]}" to your list (task {task["task_id"]}{details}).'
    ids = ", ".join(str(r["task_id"]) for r in results)
    return f"Added {names([r['title'] for r in results])} to your list (tasks {ids})."


def completed(titles: list[str]) -> str:
    return f"Marked {names(titles)} as complete."


def already_complete(titles: list[str]) -> str:
    verb = "is" if len(titles) == 1 else "are"
    return f"{names(titles)} {verb} already complete."


def deleted(titles: list[str]) -> str:
    return f"Deleted {names(titles)}."


def renamed(result: dict[str, Any]) -> str:
    return f'Renamed task {result["task_id"]} to "{result["title"]}".'


def details_changed(result: dict[str, Any], now: datetime) -> str:
    said = _details(result, now).removeprefix(", ")
    return f'Updated "{result["title"]}" (task {result["task_id"]}): {said}.'


def described(result: dict[str, Any]) -> str:
    return f'Updated the description of "{result["title"]}" (task {result["task_id"]}).'


def not_found(task_id: int) -> str:
    return f"Task {task_id} was not found. {SHOW_HINT}"


def no_match(phrase: str) -> str:
    return f'No task matches "{phrase}". {SHOW_HINT}'


def failed(error: str) -> str:
    return f"Sorry, I couldn't do that: {error}."


def ambiguous(phrase: str, tasks: list[dict[str, Any]], verb: str, example: str) -> str:
    lines = "\n".join(task_line(t) for t in tasks)
    return (
        f'{len(tasks)} tasks match "{phrase}":\n{lines}\n'
        f'Which one should I {verb}? Tell me its number, e.g. "{example}".'
    )


def which_task(verb: str, example: str) -> str:
    return (
        f"Which task should I {verb}? "
        f'Tell me its number or a word from its title, e.g. "{example}".'
    )


def which_pronoun(verb: str) -> str:
    return f'Which task should I {verb}? Tell me its number, e.g. "task 3".'


def one_at_a_time(verb: str) -> str:
    return (
        f"I don't {verb} everything at once. Tell me which tasks: their numbers "
        f'("tasks 4 and 5") or words from their titles. {SHOW_HINT}'
    )


def what_to_do_with(task: str) -> str:
    """`task`: "task 3" or "the first one"."""
    return (
        f'What should I do with {task}? For example: "mark {task} as complete", '
        f'"delete {task}" or "rename {task} to …".'
    )


def due_listing(window: str, tasks: list[dict[str, Any]], now: datetime) -> str:
    if not tasks:
        return "Nothing is overdue. 🎉" if window == "overdue" else f"Nothing is due {window}. 🎉"
    if window == "overdue":
        header = f"You have {plural(len(tasks), 'overdue task')}:"
    else:
        header = f"{plural(len(tasks), 'task')} due {window}:"
    return header + "\n" + "\n".join(task_line(t, now) for t in tasks)


def listing(status: str, tasks: list[dict[str, Any]], now: datetime | None = None) -> str:
    if not tasks:
        return {
            "all": 'Your list is empty. Say "Add a task to …" to start one.',
            "pending": "You have no pending tasks. 🎉",
            "completed": "You haven't completed any tasks yet.",
        }[status]
    if status == "pending":
        header = f"You have {plural(len(tasks), 'pending task')}:"
    elif status == "completed":
        header = f"You've completed {plural(len(tasks), 'task')}:"
    else:
        done = sum(1 for t in tasks if t["completed"])
        header = f"You have {plural(len(tasks), 'task')}" + (f" ({done} done):" if done else ":")
    return header + "\n" + "\n".join(task_line(t, now) for t in tasks)
