"""The built-in rules agent over the real task tools and a real database.

Each test seeds alice's tasks through the task service, runs one turn, and checks three things:
which tools were called (names and arguments), what the reply says, and the tasks afterwards.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from sqlmodel import Session

from backend.app.agent.base import Agent, HistoryMessage
from backend.app.agent.rules import RulesAgent
from backend.app.agent.tools import ToolContext, ToolRunner
from backend.app.models import User
from backend.app.tasks import service as task_service

USER = "alice"
CHANGING_TOOLS = {"add_task", "complete_task", "delete_task", "update_task"}
# Seeded in this order on empty tables, so their ids are 1..5; "Pay bills" (3) is done.
SEED = ["Buy groceries", "Do laundry", "Pay bills", "Team meeting", "Dentist appointment"]
HELP_EXAMPLE = "Add a task to buy groceries"


def add_user(session: Session, user_id: str) -> None:
    session.add(User(id=user_id))
    session.commit()


def seed(
    session: Session, *titles: str, completed: Iterable[str] = (), user_id: str = USER
) -> list[int]:
    done = set(completed)
    ids = []
    for title in titles:
        task = task_service.create_task(session, user_id, title, None)
        if title in done:
            task = task_service.update_task(session, task, {"completed": True})
        ids.append(task.id)
    return ids


@pytest.fixture
def runner(session: Session) -> ToolRunner:
    add_user(session, USER)
    return ToolRunner(ToolContext(session, USER))


@pytest.fixture
def seeded(session: Session, runner: ToolRunner) -> list[int]:
    ids = seed(session, *SEED, completed=["Pay bills"])
    assert ids == [1, 2, 3, 4, 5], "the phrasings below name these ids"
    return ids


def run(tools: ToolRunner, message: str, history: Sequence[HistoryMessage] = ()) -> str:
    agent: Agent = RulesAgent()
    return agent.run(message, list(history), tools)


def calls(tools: ToolRunner) -> list[tuple[str, dict[str, Any]]]:
    return [(call.name, call.arguments) for call in tools.calls]


def changing_calls(tools: ToolRunner) -> list[str]:
    return [call.name for call in tools.calls if call.name in CHANGING_TOOLS]


def tasks_state(session: Session, user_id: str = USER) -> list[tuple[int, str, bool, str | None]]:
    session.expire_all()
    return [
        (t.id, t.title, t.completed, t.description)
        for t in task_service.list_tasks(session, user_id)
    ]


def title_of(session: Session, task_id: int) -> str | None:
    return next((title for id_, title, _, _ in tasks_state(session) if id_ == task_id), None)


def turn_history(message: str, reply: str, tools: ToolRunner) -> list[HistoryMessage]:
    """The history a chat turn would store: the user message and the reply with its calls."""
    return [
        HistoryMessage("user", message),
        HistoryMessage("assistant", reply, [call.model_dump() for call in tools.calls]),
    ]


# ---------------------------------------------------------------------------------------------
# The eight examples of API.md
# ---------------------------------------------------------------------------------------------


def test_spec_add_a_task_to_buy_groceries(session: Session, runner: ToolRunner) -> None:
    reply = run(runner, "Add a task to buy groceries")

    assert calls(runner) == [("add_task", {"title": "Buy groceries"})]
    assert reply == 'Added "Buy groceries" to your list (task 1).'
    assert tasks_state(session) == [(1, "Buy groceries", False, None)]


def test_spec_i_need_to_remember_to_pay_bills(session: Session, runner: ToolRunner) -> None:
    reply = run(runner, "I need to remember to pay bills")

    assert calls(runner) == [("add_task", {"title": "Pay bills"})]
    assert '"Pay bills"' in reply
    assert [title for _, title, _, _ in tasks_state(session)] == ["Pay bills"]


def test_spec_show_me_all_my_tasks(seeded: list[int], runner: ToolRunner) -> None:
    reply = run(runner, "Show me all my tasks")

    assert calls(runner) == [("list_tasks", {"status": "all"})]
    assert reply == (
        "You have 5 tasks (1 done):\n"
        "- #1 Buy groceries\n- #2 Do laundry\n- #3 Pay bills ✓\n"
        "- #4 Team meeting\n- #5 Dentist appointment"
    )


def test_spec_whats_pending(seeded: list[int], runner: ToolRunner) -> None:
    reply = run(runner, "What's pending?")

    assert calls(runner) == [("list_tasks", {"status": "pending"})]
    assert reply.startswith("You have 4 pending tasks:")
    assert "- #2 Do laundry" in reply
    assert "Pay bills" not in reply


def test_spec_what_have_i_completed(seeded: list[int], runner: ToolRunner) -> None:
    reply = run(runner, "What have I completed?")

    assert calls(runner) == [("list_tasks", {"status": "completed"})]
    assert reply == "You've completed 1 task:\n- #3 Pay bills ✓"


def test_spec_mark_task_3_as_complete(session: Session, runner: ToolRunner) -> None:
    seed(session, "Buy groceries", "Do laundry", "Pay bills")

    reply = run(runner, "Mark task 3 as complete")

    assert calls(runner) == [("complete_task", {"task_id": 3})]
    assert reply == 'Marked "Pay bills" as complete.'
    assert tasks_state(session)[2] == (3, "Pay bills", True, None)


def test_spec_delete_the_meeting_task(session: Session, runner: ToolRunner) -> None:
    seed(session, "Buy groceries", "Team meeting", "Pay bills")

    reply = run(runner, "Delete the meeting task")

    assert calls(runner) == [("list_tasks", {"status": "all"}), ("delete_task", {"task_id": 2})]
    assert reply == 'Deleted "Team meeting".'
    assert [title for _, title, _, _ in tasks_state(session)] == ["Buy groceries", "Pay bills"]


def test_spec_change_task_1_to_call_mom_tonight(session: Session, runner: ToolRunner) -> None:
    seed(session, "Call mom")

    reply = run(runner, "Change task 1 to 'Call mom tonight'")

    assert calls(runner) == [("update_task", {"task_id": 1, "title": "Call mom tonight"})]
    assert reply == 'Renamed task 1 to "Call mom tonight".'
    assert tasks_state(session) == [(1, "Call mom tonight", False, None)]


# ---------------------------------------------------------------------------------------------
# Everyday phrasings
# ---------------------------------------------------------------------------------------------

ADD_PHRASINGS = {
    "could-you-add-to-list": ("could you add milk to my list?", "Milk"),
    "please-add-a-task": ("Please add a task to water the plants.", "Water the plants"),
    "add-bare": ("add buy stamps", "Buy stamps"),
    "add-quoted-to-tasks": ("Add 'Call mom' to my tasks", "Call mom"),
    "add-curly-quotes": ("add \u201cRenew passport\u201d to the list", "Renew passport"),
    "remind-me-to": ("remind me to call the plumber", "Call the plumber"),
    "remember-to": ("Remember to feed the cat", "Feed the cat"),
    "put-on-my-list": ("put eggs on my list", "Eggs"),
    "create-called-quoted": ('create a task called "Pay rent"', "Pay rent"),
    "create-new-task-colon": ("Create a new task: book flights", "Book flights"),
    "new-task-colon": ("new task: call the plumber", "Call the plumber"),
    "todo-colon": ("todo: water plants", "Water plants"),
    "i-have-to": ("I have to renew my passport", "Renew my passport"),
    "ive-got-to": ("I've got to fix the bike", "Fix the bike"),
    "i-must": ("I must call the bank", "Call the bank"),
    "dont-let-me-forget": ("don't let me forget to send the invoice", "Send the invoice"),
    "greeting-and-polite": ("Hi! Can you please add a reminder to stretch?", "Stretch"),
    "set-a-reminder": ("set a reminder to take out the trash", "Take out the trash"),
    "make-a-note": ("make a note to email Sarah", "Email Sarah"),
    "i-need-to-add": ("I need to add a task to buy bread", "Buy bread"),
    "inner-quotes-kept": ("Add a task to read 'Dune'", "Read 'Dune'"),
    "add-verb-first-wins": ("Add a task to delete old files", "Delete old files"),
    "remind-to-change": ("remind me to change the oil", "Change the oil"),
    "i-need-to-cancel-is-a-task": (
        "I need to cancel the gym membership",
        "Cancel the gym membership",
    ),
    "trailing-please": ("add a task to call grandma, please", "Call grandma"),
    "shopping-list": ("add milk and eggs to my shopping list", "Milk and eggs"),
}


@pytest.mark.parametrize(
    ("message", "title"), list(ADD_PHRASINGS.values()), ids=list(ADD_PHRASINGS)
)
def test_add_phrasings(session: Session, runner: ToolRunner, message: str, title: str) -> None:
    reply = run(runner, message)

    assert calls(runner) == [("add_task", {"title": title})]
    assert reply == f'Added "{title}" to your list (task 1).'
    assert tasks_state(session) == [(1, title, False, None)]


def test_add_with_a_description(session: Session, runner: ToolRunner) -> None:
    reply = run(runner, "Add a task to buy groceries with description milk, eggs and bread")

    assert calls(runner) == [
        ("add_task", {"title": "Buy groceries", "description": "milk, eggs and bread"})
    ]
    assert '"Buy groceries"' in reply
    assert tasks_state(session) == [(1, "Buy groceries", False, "milk, eggs and bread")]


LIST_PHRASINGS = {
    "list-my-tasks": ("list my tasks", "all"),
    "show-my-todo-list": ("show my to-do list", "all"),
    "what-are-my-tasks": ("What are my tasks?", "all"),
    "bare-tasks": ("tasks", "all"),
    "how-many": ("How many tasks do I have?", "all"),
    "polite-show": ("Hi, can you show me my tasks please?", "all"),
    "whats-on-my-list": ("what's on my list", "all"),
    "whats-left": ("what's left?", "pending"),
    "still-have-to-do": ("what do I still have to do?", "pending"),
    "show-pending": ("Show pending tasks", "pending"),
    "anything-left": ("anything left to do?", "pending"),
    "not-done-yet": ("which tasks are not done yet", "pending"),
    "whats-open": ("What's open?", "pending"),
    "whats-next": ("What's next?", "pending"),
    "show-all": ("show all", "all"),
    "what-did-i-finish": ("what did I finish?", "completed"),
    "show-done-tasks": ("show done tasks", "completed"),
    "bare-completed-tasks": ("completed tasks", "completed"),
    "which-completed": ("Which tasks have I completed?", "completed"),
    "list-finished": ("list finished tasks", "completed"),
}


@pytest.mark.parametrize(
    ("message", "status"), list(LIST_PHRASINGS.values()), ids=list(LIST_PHRASINGS)
)
def test_list_phrasings(
    session: Session, seeded: list[int], runner: ToolRunner, message: str, status: str
) -> None:
    before = tasks_state(session)

    reply = run(runner, message)

    assert calls(runner) == [("list_tasks", {"status": status})]
    shown = {
        "all": SEED,
        "pending": [t for t in SEED if t != "Pay bills"],
        "completed": ["Pay bills"],
    }[status]
    for title in SEED:
        assert (title in reply) == (title in shown), title
    assert tasks_state(session) == before


COMPLETE_PHRASINGS = {
    "mark-task-as-done": ("Mark task 2 as done", 2, False),
    "mark-hash-complete": ("mark #2 complete", 2, False),
    "mark-number-finished": ("mark number 2 as finished", 2, False),
    "complete-task-n": ("complete task 2", 2, False),
    "finish-n": ("finish 2", 2, False),
    "task-n-is-done": ("task 2 is done", 2, False),
    "hash-n-done": ("#2 done", 2, False),
    "set-to-done": ("set task 2 to done", 2, False),
    "number-word": ("Mark task two as complete", 2, False),
    "i-finished-title": ("I finished the laundry", 2, True),
    "done-with-title": ("done with the laundry", 2, True),
    "im-done-with-title": ("I'm done with laundry!", 2, True),
    "title-is-done": ("the laundry's done", 2, True),
    "check-off-title": ("check off groceries", 1, True),
    "tick-title-off-list": ("tick the groceries off my list", 1, True),
    "ive-just-done": ("I've just done the groceries", 1, True),
    "cross-off-title": ("cross off the dentist appointment", 5, True),
    "mark-title-completed": ("Mark the team meeting as completed", 4, True),
}


@pytest.mark.parametrize(
    ("message", "task_id", "by_title"),
    list(COMPLETE_PHRASINGS.values()),
    ids=list(COMPLETE_PHRASINGS),
)
def test_complete_phrasings(
    session: Session,
    seeded: list[int],
    runner: ToolRunner,
    message: str,
    task_id: int,
    by_title: bool,
) -> None:
    title = title_of(session, task_id)

    reply = run(runner, message)

    expected = [("complete_task", {"task_id": task_id})]
    if by_title:
        expected.insert(0, ("list_tasks", {"status": "all"}))
    assert calls(runner) == expected
    assert reply == f'Marked "{title}" as complete.'
    done = {id_ for id_, _, completed, _ in tasks_state(session) if completed}
    assert done == {3, task_id}


DELETE_PHRASINGS = {
    "delete-task-n": ("Delete task 3", 3, False),
    "remove-hash-n": ("remove #4", 4, False),
    "delete-number-n": ("delete number 5", 5, False),
    "please-delete-n": ("Please delete 1", 1, False),
    "i-want-to-delete": ("I want to delete task 2", 2, False),
    "number-word": ("Delete number four", 4, False),
    "remove-title-task": ("remove the dentist task", 5, True),
    "cancel-title-task": ("cancel the dentist task", 5, True),
    "get-rid-of": ("get rid of the groceries", 1, True),
    "take-off-my-list": ("take the laundry off my list", 2, True),
    "drop-title": ("drop the team meeting", 4, True),
    "delete-quoted-title": ("delete 'Pay bills'", 3, True),
}


@pytest.mark.parametrize(
    ("message", "task_id", "by_title"), list(DELETE_PHRASINGS.values()), ids=list(DELETE_PHRASINGS)
)
def test_delete_phrasings(
    session: Session,
    seeded: list[int],
    runner: ToolRunner,
    message: str,
    task_id: int,
    by_title: bool,
) -> None:
    title = title_of(session, task_id)

    reply = run(runner, message)

    expected = [("delete_task", {"task_id": task_id})]
    if by_title:
        expected.insert(0, ("list_tasks", {"status": "all"}))
    assert calls(runner) == expected
    assert reply == f'Deleted "{title}".'
    assert [id_ for id_, _, _, _ in tasks_state(session)] == [i for i in seeded if i != task_id]


RENAME_PHRASINGS = {
    "rename-task-n-to": ("rename task 2 to Wash clothes", 2, "Wash clothes", False),
    "change-n-to": ("change 2 to wash clothes", 2, "Wash clothes", False),
    "update-task-n-title-to": ("update task 4 title to Standup", 4, "Standup", False),
    "change-title-of-curly": (
        "Change the title of task 4 to \u201cDaily standup\u201d",
        4,
        "Daily standup",
        False,
    ),
    "change-task-n-colon": ("Change task 1: call the bank", 1, "Call the bank", False),
    "edit-to-say": ("edit task #5 to say Dentist at 3pm", 5, "Dentist at 3pm", False),
    "rename-by-title": ("rename the groceries task to Buy food", 1, "Buy food", True),
    "quoted-title-to-quoted": ("change 'Do laundry' to 'Wash whites'", 2, "Wash whites", True),
}


@pytest.mark.parametrize(
    ("message", "task_id", "new_title", "by_title"),
    list(RENAME_PHRASINGS.values()),
    ids=list(RENAME_PHRASINGS),
)
def test_rename_phrasings(
    session: Session,
    seeded: list[int],
    runner: ToolRunner,
    message: str,
    task_id: int,
    new_title: str,
    by_title: bool,
) -> None:
    reply = run(runner, message)

    expected = [("update_task", {"task_id": task_id, "title": new_title})]
    if by_title:
        expected.insert(0, ("list_tasks", {"status": "all"}))
    assert calls(runner) == expected
    assert reply == f'Renamed task {task_id} to "{new_title}".'
    assert title_of(session, task_id) == new_title


DESCRIBE_PHRASINGS = {
    "set-description-of": (
        "set the description of task 2 to Use the cold cycle",
        "Use the cold cycle",
    ),
    "add-description-to": ("add a description to task 2: whites only", "whites only"),
    "task-possessive-description": (
        'change task 2\'s description to "Delicates separately"',
        "Delicates separately",
    ),
}


@pytest.mark.parametrize(
    ("message", "description"), list(DESCRIBE_PHRASINGS.values()), ids=list(DESCRIBE_PHRASINGS)
)
def test_description_phrasings(
    session: Session, seeded: list[int], runner: ToolRunner, message: str, description: str
) -> None:
    reply = run(runner, message)

    assert calls(runner) == [("update_task", {"task_id": 2, "description": description})]
    assert reply == 'Updated the description of "Do laundry" (task 2).'
    assert tasks_state(session)[1] == (2, "Do laundry", False, description)


# ---------------------------------------------------------------------------------------------
# Matching by title: exact, ambiguous, preferring open tasks, answering the question
# ---------------------------------------------------------------------------------------------


def test_ambiguous_title_asks_naming_both_and_changes_nothing(
    session: Session, runner: ToolRunner
) -> None:
    seed(session, "Team meeting", "Meeting notes", "Buy milk")
    before = tasks_state(session)

    reply = run(runner, "Delete the meeting task")

    assert calls(runner) == [("list_tasks", {"status": "all"})]
    assert "- #1 Team meeting" in reply
    assert "- #2 Meeting notes" in reply
    assert "Buy milk" not in reply
    assert "Which one should I delete?" in reply
    assert tasks_state(session) == before


@pytest.mark.parametrize(
    ("message", "answer", "expected_call"),
    [
        ("Delete the meeting task", "2", ("delete_task", {"task_id": 2})),
        ("I finished the meeting", "task 1", ("complete_task", {"task_id": 1})),
        (
            "rename the meeting task to Standup",
            "#1",
            ("update_task", {"task_id": 1, "title": "Standup"}),
        ),
    ],
    ids=["delete", "complete", "rename"],
)
def test_a_bare_id_answers_the_ambiguity_question(
    session: Session,
    runner: ToolRunner,
    message: str,
    answer: str,
    expected_call: tuple[str, dict[str, Any]],
) -> None:
    seed(session, "Team meeting", "Meeting notes")
    question = run(runner, message)
    assert changing_calls(runner) == []

    follow_up = ToolRunner(ToolContext(session, USER))
    reply = run(follow_up, answer, turn_history(message, question, runner))

    assert calls(follow_up) == [expected_call]
    assert "Team meeting" in reply or "Meeting notes" in reply or "Standup" in reply


def test_a_bare_id_without_a_question_asks_what_to_do(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    reply = run(runner, "3")

    assert calls(runner) == []
    assert "task 3" in reply


def test_an_exact_title_beats_word_matches(session: Session, runner: ToolRunner) -> None:
    seed(session, "Meeting", "Team meeting")

    reply = run(runner, "delete the meeting task")

    assert calls(runner) == [("list_tasks", {"status": "all"}), ("delete_task", {"task_id": 1})]
    assert reply == 'Deleted "Meeting".'


def test_completing_by_title_prefers_the_open_task(session: Session, runner: ToolRunner) -> None:
    seed(session, "Laundry last week", "Do laundry", completed=["Laundry last week"])

    reply = run(runner, "I finished the laundry")

    assert calls(runner)[-1] == ("complete_task", {"task_id": 2})
    assert reply == 'Marked "Do laundry" as complete.'


def test_completing_a_done_task_by_title_says_so(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    reply = run(runner, "tick off the bills")

    assert calls(runner) == [("list_tasks", {"status": "all"})]
    assert reply == '"Pay bills" is already complete.'


def test_it_means_the_task_the_conversation_last_touched(
    session: Session, runner: ToolRunner
) -> None:
    seed(session, "Buy groceries")
    added = run(runner, "Add a task to call the plumber")
    history = turn_history("Add a task to call the plumber", added, runner)

    follow_up = ToolRunner(ToolContext(session, USER))
    reply = run(follow_up, "Actually, delete it", history)

    assert calls(follow_up) == [("delete_task", {"task_id": 2})]
    assert reply == 'Deleted "Call the plumber".'
    assert [title for _, title, _, _ in tasks_state(session)] == ["Buy groceries"]


def test_other_users_tasks_are_never_matched(session: Session, runner: ToolRunner) -> None:
    add_user(session, "bob")
    seed(session, "Team meeting", user_id="bob")
    seed(session, "Buy milk")

    reply = run(runner, "Delete the meeting task")

    assert calls(runner) == [("list_tasks", {"status": "all"})]
    assert reply.startswith('No task matches "meeting".')
    assert [title for _, title, _, _ in tasks_state(session, "bob")] == ["Team meeting"]


# ---------------------------------------------------------------------------------------------
# Not found, unclear, out of scope: plain answers, nothing changed
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "tool"),
    [
        ("Delete task 7", "delete_task"),
        ("Mark task 7 as complete", "complete_task"),
        ("Rename task 7 to Foo", "update_task"),
        ("set the description of task 7 to later", "update_task"),
    ],
    ids=["delete", "complete", "rename", "describe"],
)
def test_unknown_id_is_reported_as_not_found(
    session: Session, seeded: list[int], runner: ToolRunner, message: str, tool: str
) -> None:
    before = tasks_state(session)

    reply = run(runner, message)

    assert [call.name for call in runner.calls] == [tool]
    assert runner.calls[0].result == {"error": "task 7 not found", "code": "not_found"}
    assert reply.startswith("Task 7 was not found.")
    assert tasks_state(session) == before


def test_an_id_out_of_range_is_not_found_too(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    reply = run(runner, "delete task 99999999999")

    assert changing_calls(runner) == ["delete_task"]
    assert reply.startswith("Task 99999999999 was not found.")
    assert len(tasks_state(session)) == 5


@pytest.mark.parametrize(
    ("message", "looked_for"),
    [
        ("Delete the yoga task", "yoga"),
        ("I finished the yoga class", "yoga class"),
        ("rename the yoga task to Pilates", "yoga"),
    ],
    ids=["delete", "complete", "rename"],
)
def test_no_title_match_is_said_plainly(
    session: Session, seeded: list[int], runner: ToolRunner, message: str, looked_for: str
) -> None:
    before = tasks_state(session)

    reply = run(runner, message)

    assert calls(runner) == [("list_tasks", {"status": "all"})]
    assert reply.startswith(f'No task matches "{looked_for}".')
    assert tasks_state(session) == before


OUT_OF_SCOPE = {
    "weather": "What's the weather?",
    "hello": "hello",
    "hi-there": "Hi there!",
    "joke": "tell me a joke",
    "empty": "",
    "blank": "   ",
    "punctuation": "?!",
    "how-are-you": "How are you?",
    "time": "What time is it?",
    "gibberish": "asdfgh qwerty",
    "question-about-a-task": "Is the laundry done?",
    "help": "help",
    "what-can-you-do": "What can you do?",
}


@pytest.mark.parametrize("message", list(OUT_OF_SCOPE.values()), ids=list(OUT_OF_SCOPE))
def test_out_of_scope_gets_help_and_no_tool(
    session: Session, seeded: list[int], runner: ToolRunner, message: str
) -> None:
    before = tasks_state(session)

    reply = run(runner, message)

    assert calls(runner) == []
    assert HELP_EXAMPLE in reply
    assert tasks_state(session) == before


UNCLEAR = {
    "add-without-title": "Add a task",
    "delete-everything": "delete all my tasks",
    "reopen": "Mark task 3 as not done",
    "rename-without-title": "rename task 2",
    "it-without-history": "delete it",
    "delete-which": "delete the task",
    "done-alone": "Done!",
    "thanks": "thanks!",
    "ok-thanks": "OK, thanks",
    "rename-to-empty-quotes": "Rename task 1 to ''",
    "delete-one-is-not-task-1": "delete one",
    "cancel-that-without-history": "cancel that",
}


@pytest.mark.parametrize("message", list(UNCLEAR.values()), ids=list(UNCLEAR))
def test_unclear_requests_ask_and_change_nothing(
    session: Session, seeded: list[int], runner: ToolRunner, message: str
) -> None:
    before = tasks_state(session)

    reply = run(runner, message)

    assert changing_calls(runner) == []
    assert reply
    assert tasks_state(session) == before


@pytest.mark.parametrize("message", ["thanks!", "OK, thanks", "Thank you so much"])
def test_thanks_gets_a_thank_you(runner: ToolRunner, message: str) -> None:
    assert run(runner, message) == "Glad to help! Anything else for your to-do list?"
    assert calls(runner) == []


def test_a_title_too_long_is_refused_without_a_tool(session: Session, runner: ToolRunner) -> None:
    reply = run(runner, "Add a task to " + "x" * 250)

    assert calls(runner) == []
    assert "too long" in reply
    assert tasks_state(session) == []


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("Show me all my tasks", 'Your list is empty. Say "Add a task to …" to start one.'),
        ("What's pending?", "You have no pending tasks. 🎉"),
        ("What have I completed?", "You haven't completed any tasks yet."),
    ],
    ids=["all", "pending", "completed"],
)
def test_empty_lists_say_so_kindly(runner: ToolRunner, message: str, reply: str) -> None:
    assert run(runner, message) == reply


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    ["Show me all my tasks", "Delete the meeting task", "What's the weather?", "Delete task 9"],
)
def test_same_message_same_state_same_answer(
    session: Session, runner: ToolRunner, message: str
) -> None:
    seed(session, "Team meeting", "Meeting notes")

    first = run(runner, message)
    first_calls = calls(runner)
    again = ToolRunner(ToolContext(session, USER))
    second = run(again, message)

    assert second == first
    assert calls(again) == first_calls


def test_adding_twice_answers_the_same_way_but_for_the_id(
    session: Session, runner: ToolRunner
) -> None:
    first = run(runner, "Add a task to buy milk")
    second = run(runner, "Add a task to buy milk")

    assert first == 'Added "Buy milk" to your list (task 1).'
    assert second == 'Added "Buy milk" to your list (task 2).'


def test_on_delta_is_accepted_and_the_whole_reply_returned(
    seeded: list[int], runner: ToolRunner
) -> None:
    # The chat turn passes on_delta to every agent; this one answers at once and ignores it.
    pieces: list[str] = []

    reply = RulesAgent().run("What's pending?", [], runner, on_delta=pieces.append)

    assert reply.startswith("You have 4 pending tasks:")
    assert pieces == []
