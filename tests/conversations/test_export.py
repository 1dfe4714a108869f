"""GET /api/{user_id}/conversations/{id}/export: the whole conversation, streamed, as JSON or
Markdown."""

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from backend.app.batches import BATCH_SIZE
from backend.app.models import Message
from tests.conftest import auth

CONVERSATIONS = "/api/alice/conversations"
TOOL_CALLS = [
    {
        "name": "add_task",
        "arguments": {"title": "Buy groceries", "description": None},
        "result": {"task_id": 4, "status": "created", "title": "Buy groceries"},
    },
    {
        "name": "list_tasks",
        "arguments": {"status": "pending"},
        "result": [{"id": 4, "title": "Buy groceries", "description": None, "completed": False}],
    },
    {
        "name": "complete_task",
        "arguments": {"task_id": 99},
        "result": {"error": "task 99 not found"},
    },
]
DANGEROUS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "[click me](javascript:alert(1))",
    "![pixel](http://tracker.example/p.gif)",
    "<javascript:alert(1)>",
    "\\[escaped](javascript:alert(2))",
    "\\\\[double](javascript:alert(3))",
    "&lt;b&gt; typed as entities &#60;i&#62; &#x3C;u&#x3E;",
    "[ref]: javascript:alert(4)",
    "<!-- comment --> <?php ?> <![CDATA[x]]>",
    "Tom & Jerry say 1 < 2 > 0",
]


def start(client: TestClient, title: str | None = "Weekly plan") -> dict[str, Any]:
    body = {} if title is None else {"title": title}
    response = client.post(CONVERSATIONS, json=body, headers=auth())
    assert response.status_code == 201, response.text
    return response.json()


def post(client: TestClient, conversation_id: int, **body: Any) -> dict[str, Any]:
    body = {"role": "user", "content": "hello", **body}
    response = client.post(f"{CONVERSATIONS}/{conversation_id}/messages", json=body, headers=auth())
    assert response.status_code == 201, response.text
    return response.json()


def export(client: TestClient, conversation_id: int, user: str = "alice", **params: Any):
    return client.get(
        f"/api/{user}/conversations/{conversation_id}/export", params=params, headers=auth(user)
    )


def all_messages(client: TestClient, conversation_id: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = client.get(
            f"{CONVERSATIONS}/{conversation_id}/messages", params=params, headers=auth()
        ).json()
        messages.extend(page["data"])
        if not page["has_more"]:
            return messages
        params["cursor"] = page["next_cursor"]


# --- JSON ---------------------------------------------------------------------------------


def test_the_json_export_holds_the_conversation_and_every_message(client: TestClient) -> None:
    conversation = start(client)
    post(client, conversation["id"], content="Add a task to buy groceries")
    post(client, conversation["id"], role="assistant", content="Done!", tool_calls=TOOL_CALLS)
    post(client, conversation["id"], role="assistant", content="No tools", tool_calls=[])
    # A real turn of the agent adds its own tool calls.
    turn = client.post(
        "/api/alice/chat",
        json={"message": "Add a task to call mom", "conversation_id": conversation["id"]},
        headers=auth(),
    )
    assert turn.status_code == 200, turn.text

    response = export(client, conversation["id"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="conversation-{conversation["id"]}.json"'
    )
    document = response.json()
    assert set(document) == {"conversation", "messages"}
    current = client.get(f"{CONVERSATIONS}/{conversation['id']}", headers=auth()).json()
    assert document["conversation"] == current
    assert document["messages"] == all_messages(client, conversation["id"])
    assert [m["tool_calls"] for m in document["messages"]][:3] == [None, TOOL_CALLS, []]
    assert document["messages"][-1]["tool_calls"][0]["name"] == "add_task"


def test_json_is_the_default_format(client: TestClient) -> None:
    conversation = start(client)
    post(client, conversation["id"])
    assert (
        export(client, conversation["id"]).json()
        == export(client, conversation["id"], format="json").json()
    )


def test_a_long_conversation_is_exported_whole_across_batches(
    client: TestClient, engine: Engine
) -> None:
    conversation = start(client)
    size = 2 * BATCH_SIZE + 1
    start_time = datetime.now(UTC) - timedelta(days=1)
    with engine.begin() as connection:
        connection.execute(
            insert(Message),
            [
                {
                    "conversation_id": conversation["id"],
                    "user_id": "alice",
                    "role": "user" if n % 2 == 0 else "assistant",
                    "content": f'message {n} with <b>markup</b> & "quotes" \u00e9 \u6771',
                    "tool_calls": json.dumps(TOOL_CALLS) if n % 100 == 0 else None,
                    "created_at": start_time + timedelta(seconds=n),
                }
                for n in range(size)
            ],
        )

    document = export(client, conversation["id"]).json()

    assert len(document["messages"]) == size
    assert [m["content"] for m in document["messages"]] == [
        f'message {n} with <b>markup</b> & "quotes" \u00e9 \u6771' for n in range(size)
    ]
    assert document["messages"] == all_messages(client, conversation["id"])

    markdown = export(client, conversation["id"], format="markdown").text
    assert markdown.count("\n### ") == size
    assert markdown.count("- add_task(") == len(range(0, size, 100))


def test_an_empty_conversation_exports_no_messages(client: TestClient) -> None:
    conversation = start(client, title=None)

    assert export(client, conversation["id"]).json() == {
        "conversation": conversation,
        "messages": [],
    }
    markdown = export(client, conversation["id"], format="markdown").text
    assert markdown.startswith("# Untitled conversation\n")
    assert "_No messages._" in markdown


def test_only_this_conversations_messages_are_exported(client: TestClient) -> None:
    conversation = start(client)
    other = start(client, "Other")
    mine = post(client, conversation["id"], content="mine")
    post(client, other["id"], content="not mine")

    assert [m["id"] for m in export(client, conversation["id"]).json()["messages"]] == [mine["id"]]


# --- Markdown -----------------------------------------------------------------------------


def test_the_markdown_export_reads_well(client: TestClient) -> None:
    conversation = start(client, "Weekly plan")
    user = post(client, conversation["id"], content="Add a task to buy groceries")
    assistant = post(
        client,
        conversation["id"],
        role="assistant",
        content="I added **Buy groceries**.\n\n- one\n- two",
        tool_calls=TOOL_CALLS,
    )

    response = export(client, conversation["id"], format="markdown")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="conversation-{conversation["id"]}.md"'
    )
    started = _minute(conversation["created_at"])
    assert response.text == (
        "# Weekly plan\n"
        "\n"
        f"_Started {started}_\n"
        "\n"
        f"### You — {_minute(user['created_at'])}\n"
        "\n"
        "Add a task to buy groceries\n"
        "\n"
        f"### Assistant — {_minute(assistant['created_at'])}\n"
        "\n"
        "I added **Buy groceries**.\n"
        "\n"
        "- one\n"
        "- two\n"
        "\n"
        '- add_task(title="Buy groceries") → created #4\n'
        '- list_tasks(status="pending") → 1 item\n'
        "- complete_task(task_id=99) → error: task 99 not found\n"
    )


def test_the_markdown_export_carries_no_html_and_no_links(client: TestClient) -> None:
    conversation = start(client, "<script>alert('title')</script> [t](javascript:x)")
    for content in DANGEROUS:
        post(client, conversation["id"], content=content)
    post(
        client,
        conversation["id"],
        role="assistant",
        content="tools",
        tool_calls=[
            {
                "name": "add_task",
                "arguments": {"title": "<img src=x onerror=alert(1)> [a](javascript:b)"},
                "result": {"error": "<script>bad()</script>"},
            },
            {"name": "<b>odd</b>", "arguments": {"<k>": "v"}, "result": "<i>x</i>"},
        ],
    )

    markdown = export(client, conversation["id"], format="markdown").text

    # No raw angle bracket at all: no tag, comment, autolink or processing instruction.
    assert "<" not in markdown and ">" not in markdown
    # Every [ and ] is backslash-escaped (an odd number of backslashes before it): no link,
    # image or link reference definition can form.
    for match in re.finditer(r"(\\*)[\[\]]", markdown):
        assert len(match.group(1)) % 2 == 1, markdown[match.start() - 20 : match.end() + 20]
    # A typed entity stays as typed instead of becoming a character.
    assert "&amp;lt;b&amp;gt; typed as entities &amp;#60;i&amp;#62;" in markdown
    assert "Tom & Jerry say 1 &lt; 2 &gt; 0" in markdown


def test_the_markdown_text_renders_back_to_what_was_written(client: TestClient) -> None:
    conversation = start(client)
    for content in DANGEROUS:
        post(client, conversation["id"], content=content)

    markdown = export(client, conversation["id"], format="markdown").text

    bodies = [section.split("\n\n", 1)[1].rstrip("\n") for section in markdown.split("\n### ")[1:]]
    assert [_rendered_text(body) for body in bodies] == DANGEROUS


def _rendered_text(markdown: str) -> str:
    # What a Markdown renderer shows for our escapes: backslash escapes and entities undone.
    return html.unescape(re.sub(r"\\([\\\[\]])", r"\1", markdown))


def _minute(timestamp: str) -> str:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# --- access and parameters ----------------------------------------------------------------


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_another_users_conversation_is_404(client: TestClient, export_format: str) -> None:
    response = client.post("/api/bob/conversations", json={"title": "Bob's"}, headers=auth("bob"))
    bobs = response.json()["id"]
    client.post(
        f"/api/bob/conversations/{bobs}/messages",
        json={"role": "user", "content": "secret"},
        headers=auth("bob"),
    )

    response = export(client, bobs, format=export_format)

    assert response.status_code == 404
    assert "secret" not in response.text
    assert export(client, 999_999, format=export_format).status_code == 404


def test_exporting_from_another_users_path_is_refused(client: TestClient) -> None:
    conversation = start(client)
    response = client.get(
        f"/api/alice/conversations/{conversation['id']}/export", headers=auth("bob")
    )
    assert response.status_code == 403
    no_token = client.get(f"/api/alice/conversations/{conversation['id']}/export")
    assert no_token.status_code == 401


@pytest.mark.parametrize("export_format", ["xml", "", "JSON", "md"])
def test_an_unknown_format_is_422(client: TestClient, export_format: str) -> None:
    conversation = start(client)
    assert export(client, conversation["id"], format=export_format).status_code == 422


def test_the_export_is_documented_with_both_media_types(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/{user_id}/conversations/{conversation_id}/export"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/markdown"}
    assert content["application/json"]["schema"]["$ref"].endswith("/ConversationExport")
    assert "404" in operation["responses"]
