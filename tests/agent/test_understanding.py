"""What the reworked rules agent adds, pinned down with exact calls and replies: several tasks
in one reply, "it" after a listing, typed failure codes, refusals, typo safety."""

from sqlmodel import Session

from backend.app.agent.rules import RulesAgent
from backend.app.agent.tools import ToolContext, ToolRunner
from tests.agent.test_rules import calls, changing_calls, run, seed, tasks_state, turn_history


def test_several_ids_get_one_call_each_and_one_reply(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    reply = run(runner, "delete tasks 4 and 5")

    assert calls(runner) == [("delete_task", {"task_id": 4}), ("delete_task", {"task_id": 5})]
    assert reply == 'Deleted "Team meeting" and "Dentist appointment".'
    assert [id_ for id_, *_ in tasks_state(session)] == [1, 2, 3]


def test_a_missing_id_among_several_is_named_and_the_rest_done(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    reply = run(runner, "mark 2 and 9 as done")

    assert [call.result.get("code") for call in runner.calls] == [None, "not_found"]
    assert reply == 'Marked "Do laundry" as complete. Task 9 was not found. ' + (
        'Say "show my tasks" to see your list.'
    )


def test_several_quoted_titles_are_added_as_typed(session: Session, runner: ToolRunner) -> None:
    reply = run(runner, "add 'buy milk' and 'call mom'")

    assert calls(runner) == [
        ("add_task", {"title": "buy milk"}),
        ("add_task", {"title": "call mom"}),
    ]
    assert reply == 'Added "buy milk" and "call mom" to your list (tasks 1, 2).'


def test_it_after_a_listing_of_several_asks_which(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    listed = run(runner, "show my tasks")
    follow_up = ToolRunner(ToolContext(session, runner.context.user_id))

    reply = run(follow_up, "delete it", turn_history("show my tasks", listed, runner))

    assert changing_calls(follow_up) == []
    assert reply.startswith("Which task should I delete?")


def test_an_ordinal_picks_from_the_last_listing(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    listed = run(runner, "what's pending?")  # 1, 2, 4, 5: "Pay bills" is done
    follow_up = ToolRunner(ToolContext(session, runner.context.user_id))

    reply = run(follow_up, "the third one is done", turn_history("what's pending?", listed, runner))

    assert calls(follow_up) == [("complete_task", {"task_id": 4})]
    assert reply == 'Marked "Team meeting" as complete.'


def test_a_past_tense_statement_completes_by_lemma(session: Session, runner: ToolRunner) -> None:
    seed(session, "Buy milk", "Call mom")

    reply = run(runner, "I bought the milk, tick it off")

    assert calls(runner) == [("list_tasks", {"status": "all"}), ("complete_task", {"task_id": 1})]
    assert reply == 'Marked "Buy milk" as complete.'


def test_completing_by_title_and_by_statement_say_already_alike(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    assert run(runner, "mark the bills as done") == '"Pay bills" is already complete.'
    assert run(runner, "I paid the bills") == '"Pay bills" is already complete.'
    assert changing_calls(runner) == []


def test_a_refusal_changes_nothing(session: Session, seeded: list[int], runner: ToolRunner) -> None:
    before = tasks_state(session)

    for message in ("don't delete the laundry", "I haven't done the laundry yet", "never mind"):
        assert run(runner, message) == "OK, I'll leave your list as it is."

    assert changing_calls(runner) == []
    assert tasks_state(session) == before


def test_a_question_about_a_task_never_completes_it(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    for message in ("did I do the laundry?", "laundry done?", "is the laundry done?"):
        RulesAgent().run(message, [], runner)

    assert changing_calls(runner) == []
    assert tasks_state(session)[1][2] is False


def test_a_misspelt_title_word_finds_the_task_but_a_real_word_does_not(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    assert run(runner, "delete the laundyr") == 'Deleted "Do laundry".'
    assert run(runner, "delete the meating") == 'Deleted "Team meeting".'
    # "bells" is a word of its own: it is not taken for "bills".
    assert run(runner, "delete the bells").startswith('No task matches "bells".')


def test_a_name_in_a_title_is_not_turned_into_a_command_word(
    session: Session, runner: ToolRunner
) -> None:
    reply = run(runner, "add call Dane about the lsit")

    assert calls(runner) == [("add_task", {"title": "Call Dane about the lsit"})]
    assert reply == 'Added "Call Dane about the lsit" to your list (task 1).'


def test_them_means_every_task_the_last_turn_changed(session: Session, runner: ToolRunner) -> None:
    message = "add buy stamps and post the letter"
    added = run(runner, message)
    follow_up = ToolRunner(ToolContext(session, runner.context.user_id))

    reply = run(follow_up, "actually delete them", turn_history(message, added, runner))

    assert calls(follow_up) == [("delete_task", {"task_id": 1}), ("delete_task", {"task_id": 2})]
    assert reply == 'Deleted "Buy stamps" and "Post the letter".'
    assert tasks_state(session) == []


def test_a_typed_smiley_is_dropped_but_an_emoji_stays_in_the_title(
    session: Session, runner: ToolRunner
) -> None:
    run(runner, "new task - fix the leaking tap :)")
    run(runner, "add buy coffee ☕ :D")

    assert [title for _, title, *_ in tasks_state(session)] == [
        "Fix the leaking tap",
        "Buy coffee ☕",
    ]


def test_ids_separated_by_spaces_are_several(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    reply = run(runner, "complete 1 2 and 4")

    assert changing_calls(runner) == ["complete_task"] * 3
    assert reply == 'Marked "Buy groceries", "Do laundry" and "Team meeting" as complete.'


def test_the_last_two_are_the_last_two_listed(
    session: Session, seeded: list[int], runner: ToolRunner
) -> None:
    listed = run(runner, "what's pending?")
    follow_up = ToolRunner(ToolContext(session, runner.context.user_id))

    reply = run(follow_up, "delete the last two", turn_history("what's pending?", listed, runner))

    assert calls(follow_up) == [("delete_task", {"task_id": 4}), ("delete_task", {"task_id": 5})]
    assert reply == 'Deleted "Team meeting" and "Dentist appointment".'


def test_the_first_one_after_which_one_is_the_first_match_shown(
    session: Session, runner: ToolRunner
) -> None:
    seed(session, "Buy milk", "Team meeting", "Meeting notes")
    question = run(runner, "delete the meeting task")
    history = turn_history("delete the meeting task", question, runner)
    follow_up = ToolRunner(ToolContext(session, runner.context.user_id))

    reply = run(follow_up, "delete the first one", history)

    assert "Which one should I delete?" in question
    assert calls(follow_up) == [("delete_task", {"task_id": 2})]
    assert reply == 'Deleted "Team meeting".'


def test_the_first_one_alone_answers_which_one(session: Session, runner: ToolRunner) -> None:
    seed(session, "Team meeting", "Meeting notes")
    question = run(runner, "I finished the meeting")
    follow_up = ToolRunner(ToolContext(session, runner.context.user_id))

    reply = run(
        follow_up, "the second one", turn_history("I finished the meeting", question, runner)
    )

    assert calls(follow_up) == [("complete_task", {"task_id": 2})]
    assert reply == 'Marked "Meeting notes" as complete.'


def test_completing_it_again_says_already(session: Session, runner: ToolRunner) -> None:
    seed(session, "Buy milk")
    first = run(runner, "I bought the milk")
    follow_up = ToolRunner(ToolContext(session, runner.context.user_id))

    reply = run(follow_up, "mark it done", turn_history("I bought the milk", first, runner))

    assert changing_calls(follow_up) == []
    assert reply == '"Buy milk" is already complete.'


def test_a_range_of_ids_and_a_labelled_list(session: Session, runner: ToolRunner) -> None:
    added = run(runner, "add these: buy stamps, post the letter, call the bank")
    deleted = run(runner, "remove tasks 1-2")

    assert added == 'Added "Buy stamps", "Post the letter" and "Call the bank" to your list ' + (
        "(tasks 1, 2, 3)."
    )
    assert deleted == 'Deleted "Buy stamps" and "Post the letter".'
    assert [title for _, title, *_ in tasks_state(session)] == ["Call the bank"]
