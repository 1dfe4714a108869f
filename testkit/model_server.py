"""A fake OpenAI-compatible model server at the process edge, answering from a script.

Nothing here patches our own code: the app talks to this server through the real OpenAI SDK
over a real socket, so serialisation, retries and time-outs run exactly as in production.
"""

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class ModelReply:
    """One scripted answer of the fake model server; build it with the functions below.

    A reply is either a completion (`message`, sent with status 200) or an error (`status` and
    an OpenAI-style `error` object); either can come after `delay_s` seconds of silence.
    """

    message: dict[str, Any] | None = None
    finish_reason: str = "stop"
    status: int = 200
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    # Silent until the test calls FakeModelServer.release() (a model that thinks for as long
    # as the test needs; then `delay_s` is not used).
    held: bool = False
    # Streamed: seconds between chunks, as a model writing its answer word by word.
    chunk_interval_s: float = 0.0
    # Streamed: the connection drops after this many chunks (a model server that dies mid-way).
    break_after_chunks: int | None = None


def tool_call(
    name: str, arguments: dict[str, Any] | str, call_id: str | None = None
) -> dict[str, Any]:
    """One entry of `tool_calls`; a string is sent as the arguments verbatim (even malformed)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": call_id,  # filled in with a fresh `call_...` id when None
        "type": "function",
        "function": {"name": name, "arguments": raw},
    }


def calls(*tool_calls: dict[str, Any], content: str | None = None) -> ModelReply:
    """The model asks for these tool calls (one round; several run in the order given)."""
    message = {"role": "assistant", "content": content, "tool_calls": list(tool_calls)}
    return ModelReply(message=message, finish_reason="tool_calls")


def answer(content: str) -> ModelReply:
    """A plain text answer, no tool call: the end of the turn."""
    return ModelReply(message={"role": "assistant", "content": content})


def server_error(
    status: int = 500,
    message: str = "The server had an error while processing your request.",
    *,
    retry_after_ms: int | None = None,
) -> ModelReply:
    """An HTTP error with OpenAI's error body; `retry_after_ms` sets the SDK's retry delay."""
    headers = {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms)}
    error_type = "server_error" if status >= 500 else "invalid_request_error"
    error = {"message": message, "type": error_type, "param": None, "code": None}
    return ModelReply(status=status, error=error, headers=headers)


def held(then: ModelReply) -> ModelReply:
    """`then`, sent only once the test calls `FakeModelServer.release()`."""
    return replace(then, held=True)


def hang(seconds: float, then: ModelReply | None = None) -> ModelReply:
    """Say nothing for `seconds` (the client should give up first), then answer `then`."""
    return replace(then or answer("(a late answer nobody should see)"), delay_s=seconds)


def slowly(reply: ModelReply, chunk_interval_s: float) -> ModelReply:
    """The same reply, streamed with a pause between chunks (a model still writing)."""
    return replace(reply, chunk_interval_s=chunk_interval_s)


def broken_off(reply: ModelReply, after_chunks: int) -> ModelReply:
    """The same reply, streamed, its connection cut after `after_chunks` chunks."""
    return replace(reply, break_after_chunks=after_chunks)


class StreamCut(Exception):
    """Raised inside a streamed body to make uvicorn drop the connection mid-way."""


@dataclass(frozen=True)
class ModelRequest:
    """A request the fake model server received (header names in lower case)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeModelServer:
    """A real HTTP server on 127.0.0.1 speaking the chat-completions wire format.

    `POST /v1/chat/completions` pops the next scripted ModelReply (see `push`; once the script
    is empty, `default_reply` when one is set) and records the request; the app reaches it
    through the real OpenAI SDK (OPENAI_BASE_URL = `base_url`), so the SDK's serialisation,
    retries and time-outs all run. A request beyond the script is answered 500 with
    `x-should-retry: false` (and counted in `unscripted`), so the test fails loudly instead of
    hanging.

    It is asynchronous (Starlette under uvicorn, on an event loop of its own thread), so it
    holds hundreds of slow answers open at once, as a real model server does. A client that
    hangs up while its answer is delayed is counted in `disconnected`.

    With `stream: true` the same scripted reply is sent as `chat.completion.chunk` events (and
    a last chunk with the usage when `stream_options.include_usage` asks for it).
    """

    def __init__(self, model_name: str = "fake-model", default_reply: ModelReply | None = None):
        self.model_name = model_name
        self.default_reply = default_reply
        self._lock = threading.Lock()
        self._script: list[ModelReply] = []
        self._received: list[ModelRequest] = []
        self._unscripted = 0
        self._disconnected = 0
        self._ids = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._released: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._root = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "FakeModelServer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()[:2]
        self._root = f"http://{host}:{port}"
        app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["POST"])])
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            backlog=2048,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._released = asyncio.Event()
            ready.set()
            await self._server.serve(sockets=[sock])

        self._thread = threading.Thread(
            target=asyncio.run, args=(serve(),), name="fake-model", daemon=True
        )
        self._thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 5
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Drop any delayed answer, shut the server down and close its socket."""
        if self._server is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def release(self) -> None:
        """Let every held answer (see `held`) go, those waiting now and those to come."""
        if self._loop is not None and self._released is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    def __enter__(self) -> "FakeModelServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, `http://127.0.0.1:<port>` (the SDK's base URL is `url + "/v1"`)."""
        return self._root

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL is set to."""
        return self._root + "/v1"

    def app_settings(self, **overrides: object) -> dict[str, object]:
        """Settings overrides for an app whose agent is the model behind this server."""
        settings: dict[str, object] = {
            "agent": "openai",
            "openai_base_url": self.base_url,
            "openai_api_key": "test-key",
            "openai_model": self.model_name,
        }
        settings.update(overrides)
        return settings

    def environment(self) -> dict[str, str]:
        """The same settings as environment variables, for a server process."""
        return {
            "AGENT": "openai",
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": "test-key",
            "OPENAI_MODEL": self.model_name,
        }

    # -- the script and what was received --------------------------------------------------

    def push(self, *replies: ModelReply) -> None:
        """Queue replies; each request takes the next one, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._script)

    @property
    def received(self) -> list[ModelRequest]:
        with self._lock:
            return list(self._received)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in order."""
        return [request.body for request in self.received]

    @property
    def unscripted(self) -> int:
        """Requests that came after the script ran out."""
        with self._lock:
            return self._unscripted

    @property
    def disconnected(self) -> int:
        """Requests whose client hung up before its delayed answer was sent."""
        with self._lock:
            return self._disconnected

    def _next_reply(
        self, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> ModelReply | None:
        with self._lock:
            self._received.append(ModelRequest(path=path, headers=headers, body=body))
            if self._script:
                return self._script.pop(0)
            if self.default_reply is not None:
                return self.default_reply
            self._unscripted += 1
            return None

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}{self._ids:04d}"

    # -- answering -------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        if request.url.path != CHAT_COMPLETIONS_PATH:
            return self._error(404, f"Unknown path {request.url.path}", "not_found")
        raw = await request.body()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return self._error(400, "The body is not valid JSON.")
        headers = {name.lower(): value for name, value in request.headers.items()}
        reply = self._next_reply(request.url.path, headers, body)
        if reply is None:
            message = "The fake model's script is exhausted."
            return self._error(500, message, headers={"x-should-retry": "false"})
        if (reply.held or reply.delay_s) and not await self._wait(
            request, None if reply.held else reply.delay_s
        ):
            return Response(status_code=499)  # nobody is listening any more
        if reply.error is not None:
            return self._json(reply.status, {"error": reply.error}, reply.headers)
        completion = self._completion(reply, body)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _iterate_bytes(
                    self._stream_events(completion, include_usage),
                    reply.chunk_interval_s,
                    reply.break_after_chunks,
                ),
                media_type="text/event-stream",
            )
        return self._json(200, completion, reply.headers)

    async def _wait(self, request: Request, seconds: float | None) -> bool:
        """Sleep `seconds` (None: until `release()`); False when the client hung up or the
        server stops meanwhile."""
        assert self._stopping is not None and self._released is not None

        async def client_gone() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        slept = self._released.wait() if seconds is None else asyncio.sleep(seconds)
        waits = {
            asyncio.ensure_future(slept): "slept",
            asyncio.ensure_future(client_gone()): "gone",
            asyncio.ensure_future(self._stopping.wait()): "stopping",
        }
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        outcome = waits[done.pop()]
        if outcome == "gone":
            with self._lock:
                self._disconnected += 1
        return outcome == "slept"

    def _stream_events(self, completion: dict[str, Any], include_usage: bool) -> list[bytes]:
        """The same completion as OpenAI streams it: `chat.completion.chunk` events, text in
        small pieces, each tool call's arguments in two fragments, then `data: [DONE]`."""
        choice = completion["choices"][0]
        message = choice["message"]

        def chunk(
            delta: dict[str, Any] | None, finish_reason: str | None = None, **extra: Any
        ) -> bytes:
            choices = (
                []
                if delta is None
                else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
            )
            event = {
                "id": completion["id"],
                "object": "chat.completion.chunk",
                "created": completion["created"],
                "model": completion["model"],
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(event)}\n\n".encode()

        events = [chunk({"role": "assistant", "content": ""})]
        content = message.get("content") or ""
        events += [chunk({"content": content[i : i + 4]}) for i in range(0, len(content), 4)]
        for index, call in enumerate(message.get("tool_calls") or []):
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            head = {"name": call["function"]["name"], "arguments": arguments[:half]}
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            {"index": index, "id": call["id"], "type": "function", "function": head}
                        ]
                    }
                )
            )
            tail = {"arguments": arguments[half:]}
            events.append(chunk({"tool_calls": [{"index": index, "function": tail}]}))
        events.append(chunk({}, choice["finish_reason"]))
        if include_usage:  # OpenAI's last chunk: no choices, the whole call's usage
            events.append(chunk(None, usage=completion["usage"]))
        events.append(b"data: [DONE]\n\n")
        return events

    def _completion(self, reply: ModelReply, body: dict[str, Any]) -> dict[str, Any]:
        """A `chat.completion` object as OpenAI sends it."""
        message = dict(reply.message or {"role": "assistant", "content": ""})
        message.setdefault("refusal", None)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**call, "id": call["id"] or self._new_id("call_fake")}
                for call in message["tool_calls"]
            ]
        else:
            message.pop("tool_calls", None)  # OpenAI leaves the key out when there are none
        prompt_tokens = len(json.dumps(body.get("messages", []))) // 4
        completion_tokens = len(json.dumps(message)) // 4
        return {
            "id": self._new_id("chatcmpl-fake"),
            "object": "chat.completion",
            "created": int(datetime.now(UTC).timestamp()),
            "model": body.get("model", self.model_name),
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _error(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> Response:
        error = {"message": message, "type": error_type, "param": None, "code": None}
        return self._json(status, {"error": error}, headers or {})

    def _json(self, status: int, payload: object, headers: dict[str, str]) -> Response:
        return Response(
            json.dumps(payload),
            status_code=status,
            media_type="application/json",
            headers={"x-request-id": self._new_id("req_fake"), **headers},
        )


async def _iterate_bytes(
    chunks: list[bytes], interval_s: float, break_after: int | None = None
) -> AsyncIterator[bytes]:
    for number, piece in enumerate(chunks):
        if number == break_after:
            raise StreamCut("the fake model drops the connection, as scripted")
        if interval_s and number:
            await asyncio.sleep(interval_s)
        yield piece
