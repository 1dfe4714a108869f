"""Messages as people type them to the built-in agent, each with what it should do.

Written as a user would write them (lower case, missing apostrophes, chatter, typos), grouped by
the categories of API.md "The built-in agent". Every case starts from an empty account seeded
with `seed` (ids 1, 2, … in that order; titles in `done` completed), optionally plays the earlier
turns `before` in the same conversation, then sends `message` and checks:

- the calls that change data, in order: `("add", title)`, `("complete", ref)`,
  `("delete", ref)`, `("rename", ref, new_title)` where `ref` is a task id or a title as it was
  just before `message`;
- the tasks afterwards: the tasks before `message` with exactly those effects;
- `listing`: the one `list_tasks` call's status, for requests to see tasks;
- `reply_has`: words the reply must contain (case-insensitive), e.g. "already".

`expect=[]` means: nothing may change.
"""

from dataclasses import dataclass, field, replace

# The list most cases start from: ids 1..6, #3 done.
HOME = (
    "Buy milk",
    "Call mom",
    "Pay the electricity bill",
    "Water the plants",
    "Book a haircut",
    "Email Sarah",
)
HOME_DONE = ("Pay the electricity bill",)
CHORES = (
    "Renew passport",
    "Fix the bike",
    "Clean the kitchen",
    "Take out the trash",
    "Send invoices to clients",
)
HELP = "add a task to"  # every help answer shows this example


@dataclass(frozen=True)
class Case:
    category: str
    message: str
    expect: list[tuple] = field(default_factory=list)
    seed: tuple[str, ...] = HOME
    done: tuple[str, ...] = HOME_DONE
    before: tuple[str, ...] = ()
    listing: str | None = None
    reply_has: tuple[str, ...] = ()


def _cases(category: str, *rows: Case | tuple) -> list[Case]:
    """Cases of one category from `C(...)` cases and `(message, expect)` pairs."""
    return [
        replace(row, category=category) if isinstance(row, Case) else Case(category, *row)
        for row in rows
    ]


def C(message: str, expect: list[tuple] | None = None, **kwargs) -> Case:  # noqa: N802
    return Case("", message, expect or [], **kwargs)


WORD_FORMS = _cases(
    "word forms",
    ("I bought the milk, tick it off", [("complete", "Buy milk")]),
    ("I finished calling mom", [("complete", "Call mom")]),
    ("called mom", [("complete", "Call mom")]),
    ("watered the plants", [("complete", "Water the plants")]),
    ("plants are watered", [("complete", "Water the plants")]),
    ("just emailed sarah", [("complete", "Email Sarah")]),
    ("booked the haircut", [("complete", "Book a haircut")]),
    ("done with calling mom", [("complete", "Call mom")]),
    ("buying milk is done", [("complete", "Buy milk")]),
    ("I've watered the plants today", [("complete", "Water the plants")]),
    ("delete the haircut booking", [("delete", "Book a haircut")]),
    ("remove the emailing sarah one", [("delete", "Email Sarah")]),
    ("mark milk buying as done", [("complete", "Buy milk")]),
    ("the plant watering is done", [("complete", "Water the plants")]),
    ("I called my mom", [("complete", "Call mom")]),
    ("finished booking the haircut", [("complete", "Book a haircut")]),
    ("sarah has been emailed", [("complete", "Email Sarah")]),
    C("renewed my passport!", [("complete", "Renew passport")], seed=CHORES, done=()),
    C("fixed the bike", [("complete", "Fix the bike")], seed=CHORES, done=()),
    C("kitchen's cleaned", [("complete", "Clean the kitchen")], seed=CHORES, done=()),
    C("took out the trash", [("complete", "Take out the trash")], seed=CHORES, done=()),
    C("invoices sent", [("complete", "Send invoices to clients")], seed=CHORES, done=()),
    C(
        "sent the invoice to the clients",
        [("complete", "Send invoices to clients")],
        seed=CHORES,
        done=(),
    ),
    C("delete the bike fixing task", [("delete", "Fix the bike")], seed=CHORES, done=()),
)

PRONOUNS = _cases(
    "pronouns",
    C("actually delete it", [("delete", "Buy batteries")], before=("add buy batteries",)),
    C("mark it done", [("complete", "Call the bank")], before=("add a task to call the bank",)),
    C(
        "rename that to pick up suits",
        [("rename", "Pick up dry cleaning", "Pick up suits")],
        before=("add pick up dry cleaning",),
    ),
    C("complete the first one", [("complete", "Buy milk")], before=("show my tasks",)),
    C("delete the second one", [("delete", "Call mom")], before=("what's pending?",)),
    C("actually delete that one", [("delete", "Call mom")], before=("mark call mom as done",)),
    C("done with it", [("complete", "Renew car insurance")], before=("add renew car insurance",)),
    C(
        "that one is done",
        [("complete", "Book flights to rome")],
        before=("add book flights to rome",),
    ),
    C(
        "change it to water the garden and the lawn",
        [("rename", "Water the garden", "Water the garden and the lawn")],
        before=("add water the garden",),
    ),
    C("mark the last one as done", [("complete", "Email Sarah")], before=("show pending tasks",)),
    C("remove it please", [("delete", "Get a haircut")], before=("add get a haircut",)),
    C(
        "delete it",
        [("delete", "Buy paint")],
        before=("add call the plumber", "add buy paint"),
    ),
    C(
        "delete that",
        [("delete", "Pay the electricity bill")],
        before=("what have I completed?",),
    ),
    C("delete it", [], seed=HOME),
    C("tick that off", [("complete", "Feed the cat")], before=("add feed the cat",)),
    C("delete the 3rd one", [("delete", "Pay the electricity bill")], before=("list my tasks",)),
    C(
        "i did it",
        [("complete", "Buy a birthday card for dad")],
        before=("add buy a birthday card for dad",),
    ),
    C(
        "rename it to 'Return library books by Friday'",
        [("rename", "Return library books", "Return library books by Friday")],
        before=("add return library books",),
    ),
)

SEVERAL = _cases(
    "several at once",
    C("add 'buy milk' and 'call mom'", [("add", "buy milk"), ("add", "call mom")], seed=()),
    C(
        "add buy eggs, buy bread and pay the phone bill",
        [("add", "Buy eggs"), ("add", "Buy bread"), ("add", "Pay the phone bill")],
        seed=(),
    ),
    ("delete tasks 4 and 5", [("delete", 4), ("delete", 5)]),
    ("mark 1, 2 and 5 as done", [("complete", 1), ("complete", 2), ("complete", 5)]),
    ("complete task 1 and task 2", [("complete", 1), ("complete", 2)]),
    C("add milk, eggs, bread", [("add", "Milk"), ("add", "Eggs"), ("add", "Bread")], seed=()),
    ("remove 2 and 4", [("delete", 2), ("delete", 4)]),
    ("I bought milk and called mom", [("complete", "Buy milk"), ("complete", "Call mom")]),
    C(
        "add 'renew passport', 'book hotel' and 'pack'",
        [("add", "renew passport"), ("add", "book hotel"), ("add", "pack")],
        seed=(),
    ),
    C(
        "add pick up the kids and feed the dog",
        [("add", "Pick up the kids"), ("add", "Feed the dog")],
        seed=(),
    ),
    (
        "delete the haircut and the sarah email",
        [("delete", "Book a haircut"), ("delete", "Email Sarah")],
    ),
    ("tasks 1 and 2 are done", [("complete", 1), ("complete", 2)]),
    C(
        "add call the vet; buy cat food",
        [("add", "Call the vet"), ("add", "Buy cat food")],
        seed=(),
    ),
    ("delete #4, #5", [("delete", 4), ("delete", 5)]),
    C(
        "remind me to call grandma and to send the rent",
        [("add", "Call grandma"), ("add", "Send the rent")],
        seed=(),
    ),
    C("add bread and butter", [("add", "Bread and butter")], seed=()),
)

TYPOS = _cases(
    "typos",
    C("shwo me my tasks", listing="all"),
    ("delet task 3", [("delete", 3)]),
    C("add a tsak to buy stamps", [("add", "Buy stamps")], seed=()),
    ("mark task 2 as compelte", [("complete", 2)]),
    ("remvoe the haircut", [("delete", "Book a haircut")]),
    C("whats pendng", listing="pending"),
    ("i finsihed calling mom", [("complete", "Call mom")]),
    ("delete the haricut task", [("delete", "Book a haircut")]),
    ("complete water the plnats", [("complete", "Water the plants")]),
    C("lsit my todos", listing="all"),
    ("cancle task 6", [("delete", 6)]),
    ("mrak email sarah as done", [("complete", "Email Sarah")]),
    ("delte the milk", [("delete", "Buy milk")]),
    C("show me waht I've completed", listing="completed"),
    C("ad a task to clean the garage", [("add", "Clean the garage")], seed=()),
    ("chnage task 2 to call dad", [("rename", 2, "Call dad")]),
    ("delete the yoga class", []),
    ("delete the mlik carton", []),
)

NEGATIONS = _cases(
    "negations",
    C("what haven't I done yet?", listing="pending"),
    C("what's not done", listing="pending"),
    C("which tasks are still open", listing="pending"),
    C("show me what I haven't finished", listing="pending"),
    C("anything I didn't complete?", listing="pending"),
    C("what is not yet completed", listing="pending"),
    C("list unfinished stuff", listing="pending"),
    C("what do I still need to do", listing="pending"),
    C("show the ones that aren't done", listing="pending"),
    C("whats still left", listing="pending"),
    C("what haven't I completed", listing="pending"),
    C("what have I done?", listing="completed"),
    ("I haven't called mom yet", []),
    ("don't delete the milk task", []),
    ("I didn't buy the milk", []),
    ("mark call mom as not done", []),
    ("never mind, don't add that", []),
)

CHATTER = _cases(
    "chatter around titles",
    ("ok so I need to get a haircut, put that down", [("add", "Get a haircut")]),
    ("hey can you add buy cat food to my list thanks", [("add", "Buy cat food")]),
    (
        "put 'call the insurance company' on the list please",
        [("add", "call the insurance company")],
    ),
    ("umm add pick up the parcel i guess", [("add", "Pick up the parcel")]),
    ("oh and remind me to water the garden, thanks!", [("add", "Water the garden")]),
    ("I need to call the dentist tomorrow", [("add", "Call the dentist")]),
    ("could you please add renew the car insurance for me", [("add", "Renew the car insurance")]),
    ("add a task: buy a new phone charger. thanks a lot", [("add", "Buy a new phone charger")]),
    ("note down: send the birthday card, please", [("add", "Send the birthday card")]),
    ("gotta buy printer ink, can you add that", [("add", "Buy printer ink")]),
    ("so yeah, add laundry to the list", [("add", "Laundry")]),
    ("pls add book flights to my todo list", [("add", "Book flights")]),
    ("I should really clean the fridge, add it", [("add", "Clean the fridge")]),
    ("new task - fix the leaking tap :)", [("add", "Fix the leaking tap")]),
    ("can u add buy stamps", [("add", "Buy stamps")]),
    ("hi! add 'pay council tax' to my list, cheers", [("add", "pay council tax")]),
    ("ok add get groceries to the list thanks!!", [("add", "Get groceries")]),
    ("remind me to call the dentist tomorrow", [("add", "Call the dentist")]),
)

QUESTIONS = _cases(
    "questions about the tools",
    *[
        C(message, reply_has=(HELP,))
        for message in (
            "how do I delete a task?",
            "can you add tasks?",
            "how do i mark something as done",
            "can I rename a task?",
            "what can you do?",
            "how does this work",
            "is it possible to delete several tasks at once?",
            "can you remind me of things?",
            "how do you add a task",
            "what commands do you understand",
            "do you delete tasks permanently?",
            "can you change a task's name?",
            "what happens if I delete a task?",
            "help",
            "how do I add something to my list?",
            "could you explain how to complete tasks?",
            "is there a way to undo a delete?",
            "what does mark as complete do?",
            "do you support due dates?",
        )
    ],
)

OUT_OF_SCOPE = _cases(
    "out of scope",
    *[
        (message, [])
        for message in (
            "what's the weather like tomorrow",
            "tell me a joke",
            "who won the game last night?",
            "I love you",
            "lol",
            "ok",
            "what's 2+2",
            "can you order a pizza",
            "book me a flight to paris",
            "send an email to bob",
            "translate hello into french",
            "what's your name",
            "I'm bored",
            "the milk is in the fridge",
            "my mom called",
            "is the milk done?",
            "did I pay the electricity bill?",
            "asdf",
            "good night",
            "what time is it in tokyo",
            "remind me what you can do",
            "play some music",
            "how are you today?",
            "set an alarm for 7am",
            "delete",
            "mark",
            "thanks so much!",
            # Found by probing after the rework: questions and bare verbs that must not act.
            "did I water the plants?",
            "plants watered?",
            "I paid",
            "mom called",
            "sarah emailed",
            "add it",
        )
    ],
)

CONSISTENT = _cases(
    "consistent replies",
    C("mark the electricity bill as done", reply_has=("already",)),
    C("I paid the electricity bill", reply_has=("already",)),
    # By id the agent calls complete_task as the spec says; the reply should still say so.
    C("task 3 is done", [("complete", 3)], reply_has=("already",)),
    C("mark task 3 done", [("complete", 3)], reply_has=("already",)),
    C("delete task 42", reply_has=("not found",)),
    C("complete task 42", reply_has=("not found",)),
    C("I finished the yoga class", reply_has=("no task",)),
    C("add buy milk", [("add", "Buy milk")], reply_has=("buy milk",)),
)

# Written after the agent was reworked for the sets above, as checks on cases it was not built
# for; the second one passed 41 of 48 before any change was made for it.
SECOND_ROUND: list[Case] = [
    *_cases(
        "word forms",
        C("just paid the electricity bill", reply_has=("already",)),
        ("mom's been called", [("complete", "Call mom")]),
        ("I've booked my haircut", [("complete", "Book a haircut")]),
        ("milk bought", [("complete", "Buy milk")]),
        ("finally watered those plants", [("complete", "Water the plants")]),
        C(
            "cleaned the kitchen this morning",
            [("complete", "Clean the kitchen")],
            seed=CHORES,
            done=(),
        ),
        C("the passport is renewed", [("complete", "Renew passport")], seed=CHORES, done=()),
        C("done fixing the bike", [("complete", "Fix the bike")], seed=CHORES, done=()),
        ("remove the plant watering task", [("delete", "Water the plants")]),
    ),
    *_cases(
        "pronouns",
        C(
            "oh actually remove that",
            [("delete", "Order new glasses")],
            before=("add order new glasses",),
        ),
        C(
            "great, now mark it as complete",
            [("complete", "Wash the car")],
            before=("remind me to wash the car",),
        ),
        C("delete the first one", [("delete", "Buy milk")], before=("what's left?",)),
        C("and the second one is done too", [("complete", "Call mom")], before=("show pending",)),
        C(
            "rename it to Buy oat milk",
            [("rename", "Buy milk", "Buy oat milk")],
            before=("I bought the milk",),
        ),
        C("scratch that", [("delete", "Go running")], before=("add go running",)),
    ),
    *_cases(
        "several at once",
        C(
            "add eggs and flour and sugar",
            [("add", "Eggs"), ("add", "Flour"), ("add", "Sugar")],
            seed=(),
        ),
        ("delete 1 and 2 please", [("delete", 1), ("delete", 2)]),
        ("mark tasks 4, 5 and 6 done", [("complete", 4), ("complete", 5), ("complete", 6)]),
        C(
            "new tasks: call the landlord, fix the sink",
            [("add", "Call the landlord"), ("add", "Fix the sink")],
            seed=(),
        ),
        (
            "watered the plants and booked the haircut",
            [("complete", "Water the plants"), ("complete", "Book a haircut")],
        ),
        (
            "remove the milk and the haircut tasks",
            [("delete", "Buy milk"), ("delete", "Book a haircut")],
        ),
    ),
    *_cases(
        "typos",
        C("pleas add a task to walk the dog", [("add", "Walk the dog")], seed=()),
        ("delelte task 2", [("delete", 2)]),
        C("wat are my tasks", listing="all"),
        C("show completd tasks", listing="completed"),
        ("compleet task 1", [("complete", 1)]),
        ("remove the emial sarah task", [("delete", "Email Sarah")]),
        ("renmae task 4 to water the garden", [("rename", 4, "Water the garden")]),
    ),
    *_cases(
        "negations",
        C("what have i not done", listing="pending"),
        C("stuff i havent finished?", listing="pending"),
        C("whats outstanding", listing="pending"),
        ("dont mark the milk as done", []),
        ("I still haven't booked the haircut", []),
        ("no, don't delete anything", []),
    ),
    *_cases(
        "chatter around titles",
        ("hmm I think I need to renew my gym membership", [("add", "Renew my gym membership")]),
        ("add 'Call Grandma' pls", [("add", "Call Grandma")]),
        ("oh btw remind me to pick up the dry cleaning", [("add", "Pick up the dry cleaning")]),
        ("could you stick buy lightbulbs on my list", [("add", "Buy lightbulbs")]),
        ("need to get petrol, can you note that down?", [("add", "Get petrol")]),
        ("yo add wash the car!!!", [("add", "Wash the car")]),
    ),
    *_cases(
        "questions about the tools",
        *[
            C(m, reply_has=("add a task to",))
            for m in (
                "how can I remove something from my list?",
                "can you mark tasks as done?",
                "what kind of things can you do",
                "is it possible to edit a task",
                "how do i use this",
                "do you understand typos?",
            )
        ],
    ),
    *_cases(
        "out of scope",
        *[
            (m, [])
            for m in (
                "what's the capital of france",
                "i just got home",
                "buy me milk",
                "the haircut was great",
                "mom is calling me",
                "write me a poem",
                "who made you?",
                "can you call mom for me",
                "please pay my electricity bill",
                "ugh",
            )
        ],
    ),
]

WORK = (
    "Prepare slides for Monday",
    "Review Tom's pull request",
    "Submit expense report",
    "Renew car insurance",
    "Pick up the kids",
)
W = {"seed": WORK, "done": ()}
THIRD_ROUND: list[Case] = [
    *_cases(
        "word forms",
        C("prepared the slides", [("complete", "Prepare slides for Monday")], **W),
        C("reviewed toms pull request", [("complete", "Review Tom's pull request")], **W),
        C("expense report submitted!", [("complete", "Submit expense report")], **W),
        C("I picked up the kids", [("complete", "Pick up the kids")], **W),
        C("car insurance has been renewed", [("complete", "Renew car insurance")], **W),
        C("finished reviewing the pull request", [("complete", "Review Tom's pull request")], **W),
        C("delete the slides preparation", [("delete", "Prepare slides for Monday")], **W),
    ),
    *_cases(
        "pronouns",
        C(
            "change that to pick up the kids at 4",
            [("rename", "Pick up the kids", "Pick up the kids at 4")],
            before=("I picked up the kids",),
            **W,
        ),
        C(
            "complete it",
            [("complete", "Submit expense report")],
            before=("show me the expense report task",),
            **W,
        ),
        C("ok it's done", [("complete", "Buy new shoes")], before=("add buy new shoes",)),
        C(
            "mark the third one done",
            [("complete", "Submit expense report")],
            before=("list everything",),
            **W,
        ),
        C("nah delete it", [("delete", "Go to the gym")], before=("add go to the gym",)),
    ),
    *_cases(
        "several at once",
        C("finished 1 and 3", [("complete", 1), ("complete", 3)], **W),
        C(
            "add 'call the vet' 'buy dog food'",
            [("add", "call the vet"), ("add", "buy dog food")],
            seed=(),
        ),
        C(
            "please delete task 2, task 4 and task 5",
            [("delete", 2), ("delete", 4), ("delete", 5)],
            **W,
        ),
        C(
            "I submitted the expense report and renewed the car insurance",
            [("complete", "Submit expense report"), ("complete", "Renew car insurance")],
            **W,
        ),
        C(
            "add apples, bananas, oranges and grapes to my shopping list",
            [("add", "Apples"), ("add", "Bananas"), ("add", "Oranges"), ("add", "Grapes")],
            seed=(),
        ),
    ),
    *_cases(
        "typos",
        C("delete teh slides task", [("delete", "Prepare slides for Monday")], **W),
        C("mark the expnse report as done", [("complete", "Submit expense report")], **W),
        C("shw pending tasks", listing="pending", **W),
        C("remove task nmber 2", [("delete", 2)], **W),
        C("addd a task to call the school", [("add", "Call the school")], seed=()),
        C("what are my taks", listing="all", **W),
    ),
    *_cases(
        "negations",
        C("what haven't i ticked off yet", listing="pending", **W),
        C("which ones aren't finished", listing="pending", **W),
        C("haven't reviewed the pull request yet", [], **W),
        C("do not delete anything", [], **W),
        C("what's not completed yet?", listing="pending", **W),
    ),
    *_cases(
        "chatter around titles",
        C(
            "alright, add renew my library card to the list",
            [("add", "Renew my library card")],
            seed=(),
        ),
        C(
            "hey so i gotta call the plumber, write that down pls",
            [("add", "Call the plumber")],
            seed=(),
        ),
        C("add a reminder to buy a gift for Anna, thx", [("add", "Buy a gift for Anna")], seed=()),
        C(
            "I have to book a table for friday. add it please",
            [("add", "Book a table")],
            seed=(),
        ),
        C("umm can u put buy coffee beans on the list", [("add", "Buy coffee beans")], seed=()),
    ),
    *_cases(
        "questions about the tools",
        *[
            C(m, reply_has=("add a task to",), **W)
            for m in (
                "how do I complete something?",
                "can you delete things?",
                "what am I able to ask you?",
                "do you know how to rename tasks",
                "how would I remove a task",
            )
        ],
    ),
    *_cases(
        "out of scope",
        *[
            C(m, **W)
            for m in (
                "how's it going",
                "the kids are at school",
                "tom reviewed my pull request",
                "insurance is so expensive",
                "can you submit my expense report",
                "what day is it",
                "I hate mondays",
                "remind me why I'm doing this",
                "cancel my subscription",
                "hmm",
            )
        ],
    ),
]

# A fourth round, written the same way: 41 of 45 before any change for it — among the misses
# "the vet called", an out-of-scope message that completed "Schedule the vet appointment".
ERRANDS = (
    "Buy bread",
    "Return the jacket",
    "Schedule the vet appointment",
    "Clean out the garage",
    "Send birthday card to grandma",
    "Order printer paper",
)
E = {"seed": ERRANDS, "done": ("Order printer paper",)}
FOURTH_ROUND: list[Case] = [
    *_cases(
        "word forms",
        C("returned the jacket today", [("complete", "Return the jacket")], **E),
        C("vet appointment is scheduled", [("complete", "Schedule the vet appointment")], **E),
        C("I scheduled the vet", [("complete", "Schedule the vet appointment")], **E),
        C("garage is finally cleaned out", [("complete", "Clean out the garage")], **E),
        C("sent grandma's birthday card", [("complete", "Send birthday card to grandma")], **E),
        C("bread's bought", [("complete", "Buy bread")], **E),
        C("ordered the printer paper", reply_has=("already",), **E),
    ),
    *_cases(
        "pronouns",
        C("delete that one", [("delete", "Fix the fence")], before=("add fix the fence",), **E),
        C(
            "actually it's done already",
            [("complete", "Buy bread")],
            before=("remind me to buy bread",),
            seed=(),
            done=(),
        ),
        C(
            "rename it to 'Return the blue jacket'",
            [("rename", "Return the jacket", "Return the blue jacket")],
            before=("returned the jacket",),
            **E,
        ),
        C(
            "the 2nd one is done",
            [("complete", "Return the jacket")],
            before=("show me what's left",),
            **E,
        ),
        C(
            "remove the last one",
            [("delete", "Order printer paper")],
            before=("show all my tasks",),
            **E,
        ),
    ),
    *_cases(
        "several at once",
        C("add buy bread, buy eggs", [("add", "Buy bread"), ("add", "Buy eggs")], seed=(), done=()),
        C("tick off 1 and 2", [("complete", 1), ("complete", 2)], **E),
        C("delete tasks 3, 4", [("delete", 3), ("delete", 4)], **E),
        C(
            "add 'fix the fence' and 'paint the shed' to my list",
            [("add", "fix the fence"), ("add", "paint the shed")],
            seed=(),
            done=(),
        ),
        C(
            "returned the jacket and bought bread",
            [("complete", "Return the jacket"), ("complete", "Buy bread")],
            **E,
        ),
    ),
    *_cases(
        "typos",
        C("delete the jackt task", [("delete", "Return the jacket")], **E),
        C("complete task 1 pls", [("complete", 1)], **E),
        C("mark the garrage as done", [("complete", "Clean out the garage")], **E),
        C("shoe me my list", listing="all", **E),
        C("wats left", listing="pending", **E),
        C("remoev task 2", [("delete", 2)], **E),
    ),
    *_cases(
        "negations",
        C("what isn't done yet", listing="pending", **E),
        C("what's still to do", listing="pending", **E),
        C("tasks I haven't done", listing="pending", **E),
        C("I didn't return the jacket", [], **E),
        C("don't remove the garage task", [], **E),
    ),
    *_cases(
        "chatter around titles",
        C("okay so can you add call the bank please", [("add", "Call the bank")], seed=(), done=()),
        C("add 'buy a new mattress' pls thx", [("add", "buy a new mattress")], seed=(), done=()),
        C(
            "i need to fix the fence this weekend, can you put it on my list?",
            [("add", "Fix the fence this weekend")],
            seed=(),
            done=(),
        ),
        C(
            "hey! remind me to water the tomatoes :)",
            [("add", "Water the tomatoes")],
            seed=(),
            done=(),
        ),
        C("jot down pick up prescription", [("add", "Pick up prescription")], seed=(), done=()),
    ),
    *_cases(
        "questions about the tools",
        *[
            C(m, reply_has=(HELP,), **E)
            for m in (
                "how do I tick something off?",
                "can you rename tasks for me?",
                "what can I ask you to do?",
                "could you tell me how to delete a task?",
            )
        ],
    ),
    *_cases(
        "out of scope",
        *[
            C(m, **E)
            for m in (
                "grandma sent me a card",
                "the jacket is too small",
                "the vet called",
                "bread is expensive",
                "I'm cleaning the garage right now",
                "order a pizza",
                "what should I have for dinner",
                "jacket returned?",
            )
        ],
    ),
]

CORPUS: list[Case] = [
    *WORD_FORMS,
    *PRONOUNS,
    *SEVERAL,
    *TYPOS,
    *NEGATIONS,
    *CHATTER,
    *QUESTIONS,
    *OUT_OF_SCOPE,
    *CONSISTENT,
    *SECOND_ROUND,
    *THIRD_ROUND,
    *FOURTH_ROUND,
]
# Messages outside the agent's scope may never change data: these must all pass.
NOTHING_MAY_CHANGE = {"questions about the tools", "out of scope"}
