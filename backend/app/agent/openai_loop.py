"""The model-driven agent: the OpenAI SDK's chat-completions tool-calling loop, asynchronous.

Works with OpenAI and any server speaking the same wire format (Ollama, vLLM, LiteLLM, Gemini's
OpenAI endpoint) through OPENAI_BASE_URL. A turn waiting on its model is a coroutine parked on a
socket: it holds no worker thread and no database connection (each tool call is a short thread
hop with its own session), so hundreds of turns can wait on a slow model at once.

The whole turn has one deadline (AGENT_TIMEOUT_S), enforced with `asyncio.timeout`, which also
cancels the model call in flight and closes its connection. Retries are the SDK's own policy
(statuses, Retry-After, back-off); the deadline bounds them too.
"""

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletionMessage
from openai.types.completion_usage import CompletionUsage

from backend.app.agent.base import AgentError, AgentReply, AgentTimeout, HistoryMessage
from backend.app.agent.prompts import system_prompt
from backend.app.agent.tools import TOOLS, AsyncToolRunner
from backend.app.config import Settings

logger = logging.getLogger(__name__)

MAX_RETRIES = 2  # the SDK's default, stated here because tests count the attempts
# One client per app serves every turn: its pool must take hundreds of calls waiting at once.
MAX_MODEL_CONNECTIONS = 1000
MAX_IDLE_MODEL_CONNECTIONS = 100
# Local servers (Ollama, vLLM) need no key, but the SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"
PARAGRAPH = "\n\n"  # between texts the model wrote in different rounds of one turn
# Said when the model answers nothing (an empty content, or tool calls after its last round):
# an assistant message is never blank.
NO_ANSWER = "Sorry, I could not put an answer together. Please check your tasks and try again."


def history_to_messages(history: Sequence[HistoryMessage]) -> list[dict[str, Any]]:
    """Earlier turns as chat-completions messages, replaying each stored tool call and result."""
    messages: list[dict[str, Any]] = []
    for turn, item in enumerate(history):
        if item.role == "assistant" and item.tool_calls:
            ids = [f"call_h{turn}_{i}" for i in range(len(item.tool_calls))]
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {
                                "name": call.get("name", ""),
                                "arguments": json.dumps(call.get("arguments", {})),
                            },
                        }
                        for call_id, call in zip(ids, item.tool_calls, strict=True)
                    ],
                }
            )
            for call_id, call in zip(ids, item.tool_calls, strict=True):
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "content": json.dumps(call.get("result")),
                    }
                )
        messages.append({"role": item.role, "content": item.content})
    return messages


def model_failure(exc: openai.OpenAIError) -> AgentError:
    """The SDK's error as the sentence the user gets (after the SDK's own retries)."""
    if isinstance(exc, openai.APITimeoutError):
        return AgentTimeout("the model did not answer in time")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        # Permanent until someone fixes the configuration: say so, not "try again".
        return AgentError(
            f"the model server rejected the API key ({exc.status_code}); "
            "check OPENAI_API_KEY and OPENAI_BASE_URL",
            permanent=True,
        )
    if isinstance(exc, openai.NotFoundError):
        return AgentError(
            "the model server does not know this model (404); check OPENAI_MODEL and "
            "OPENAI_BASE_URL",
            permanent=True,
        )
    if isinstance(exc, openai.APIStatusError):
        return AgentError(f"the model server answered {exc.status_code}")
    if isinstance(exc, openai.APIConnectionError):
        return AgentError("the model server could not be reached")
    return AgentError(f"the model call failed: {type(exc).__name__}")


@dataclass
class _ModelCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass
class _Reply:
    """One model answer, whether it arrived whole or as a stream of chunks."""

    content: str = ""
    tool_calls: list[_ModelCall] = field(default_factory=list)
    usage: CompletionUsage | None = None

    @classmethod
    def of(cls, message: ChatCompletionMessage, usage: CompletionUsage | None) -> "_Reply":
        return cls(
            content=message.content or "",
            tool_calls=[
                _ModelCall(call.id, call.function.name, call.function.arguments or "")
                for call in message.tool_calls or []
                if call.type == "function"
            ],
            usage=usage,
        )

    def as_message(self) -> dict[str, Any]:
        """The assistant message to send back to the model in the next round."""
        return {
            "role": "assistant",
            "content": self.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ],
        }


@dataclass
class _Usage:
    """The model's own token counts, summed over the turn's calls."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    counted: bool = False

    def add(self, usage: CompletionUsage | None) -> None:
        if usage is None:
            return
        self.counted = True
        self.prompt_tokens += usage.prompt_tokens or 0
        self.completion_tokens += usage.completion_tokens or 0
        self.total_tokens += usage.total_tokens or 0

    def as_dict(self) -> dict[str, Any] | None:
        if not self.counted:
            return None  # a server that reports no usage: unknown, not zero
        return {
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


def _refuse_constant(constant: str) -> None:
    # Python's json reads NaN and Infinity, which JSON has not: stored, they would break every
    # later listing of the conversation.
    raise ValueError(f"{constant} is not a JSON value")


def _parse_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """The model's JSON arguments, or an error sentence the model gets back as the result."""
    try:
        arguments = json.loads(raw or "{}", parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return {}, f"the arguments were not valid JSON ({exc.msg})"
    except ValueError as exc:
        return {}, f"the arguments were not valid JSON ({exc})"
    if not isinstance(arguments, dict):
        return {}, "the arguments must be a JSON object"
    return arguments, None


class OpenAIAgent:
    """The tool loop over one `AsyncOpenAI` client, made with the app and closed on shutdown."""

    def __init__(self, settings: Settings) -> None:
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._client = openai.AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=settings.openai_base_url,
            timeout=settings.agent_timeout_s,
            max_retries=MAX_RETRIES,
            http_client=openai.DefaultAsyncHttpxClient(
                limits=httpx2.Limits(
                    max_connections=MAX_MODEL_CONNECTIONS,
                    max_keepalive_connections=MAX_IDLE_MODEL_CONNECTIONS,
                )
            ),
        )
        self._model = settings.openai_model
        self._timeout_s = settings.agent_timeout_s
        self._max_rounds = settings.agent_max_tool_rounds
        self._tools = [tool.openai_definition() for tool in TOOLS.values()]

    async def aclose(self) -> None:
        await self._client.close()

    async def run(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: AsyncToolRunner,
        *,
        on_delta: Callable[[str], None] | None = None,
        now: datetime | None = None,
    ) -> AgentReply:
        """The tool loop; with `on_delta` the model is streamed and its text passed on live.

        The reply is all the text the model wrote in the turn (usually only the last round's),
        so the streamed pieces always concatenate to exactly the stored reply.
        """
        usage = _Usage(self._model)
        try:
            async with asyncio.timeout(self._timeout_s):
                text = await self._loop(message, history, tools, on_delta, usage, now)
        except TimeoutError:
            raise AgentTimeout(f"no answer within {self._timeout_s:g} s") from None
        except openai.OpenAIError as exc:
            raise model_failure(exc) from None
        return AgentReply(text=text, usage=usage.as_dict())

    async def _loop(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: AsyncToolRunner,
        on_delta: Callable[[str], None] | None,
        usage: _Usage,
        now: datetime | None,
    ) -> str:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt(now)},
            *history_to_messages(history),
            {"role": "user", "content": message},
        ]
        texts: list[str] = []
        for round_number in range(self._max_rounds + 1):
            # The round after the last allowed one asks for a final answer without tools.
            offer_tools = round_number < self._max_rounds
            if on_delta is None:
                reply = await self._complete(messages, offer_tools)
            else:
                reply = await self._stream(messages, offer_tools, on_delta, bool(texts))
            usage.add(reply.usage)
            if reply.content.strip():
                texts.append(reply.content)
            if not reply.tool_calls or not offer_tools:
                break  # tool calls asked for after being told not to are not run
            messages.append(reply.as_message())
            for call in reply.tool_calls:
                arguments, problem = _parse_arguments(call.arguments)
                if problem is None:
                    result = await tools(call.name, arguments)
                else:
                    result = {"error": problem}
                    tools.record(call.name, arguments, result)
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )
        return PARAGRAPH.join(texts) if texts else NO_ANSWER

    def _request(self, messages: list[dict[str, Any]], offer_tools: bool) -> dict[str, Any]:
        return {
            "model": self._model,
            "messages": messages,
            "tools": self._tools,
            "tool_choice": "auto" if offer_tools else "none",
        }

    async def _complete(self, messages: list[dict[str, Any]], offer_tools: bool) -> _Reply:
        try:
            response = await self._client.chat.completions.create(
                **self._request(messages, offer_tools)
            )
        except ValueError:  # the SDK decoding a body that is not JSON
            raise AgentError("the model's answer was not valid JSON") from None
        # A server that is not quite OpenAI-compatible (or a proxy's error page served with
        # 200) hands the SDK anything; it is the model failing, not a crash of ours.
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise AgentError("the model returned no choices")
        message = getattr(choices[0], "message", None)
        if not isinstance(message, ChatCompletionMessage):
            raise AgentError("the model's answer was not a chat completion")
        usage = getattr(response, "usage", None)
        return _Reply.of(message, usage if isinstance(usage, CompletionUsage) else None)

    async def _stream(
        self,
        messages: list[dict[str, Any]],
        offer_tools: bool,
        on_delta: Callable[[str], None],
        after_text: bool,
    ) -> _Reply:
        """Assemble a streamed answer: text goes to `on_delta` as it comes, tool calls are
        put together from their indexed fragments, the usage comes in the last chunk."""
        reply = _Reply()
        calls: dict[int, _ModelCall] = {}
        # Opening the stream fails as a request does (model_failure says why, after the SDK's
        # retries); once it is open, whatever cuts it is the stream breaking off.
        stream = await self._client.chat.completions.create(
            **self._request(messages, offer_tools),
            stream=True,
            stream_options={"include_usage": True},
        )
        try:
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        reply.usage = chunk.usage
                    if not chunk.choices:
                        continue
                    delta = chunk.choices[0].delta
                    if delta.content:
                        held = not reply.content.strip()
                        reply.content += delta.content
                        if held and reply.content.strip():
                            # A round's leading blank text waits for its first word: a blank
                            # round is left out of the reply (run), so it is not streamed
                            # either, and the pieces stay equal to the joined reply.
                            on_delta((PARAGRAPH if after_text else "") + reply.content)
                        elif not held:
                            on_delta(delta.content)
                    for fragment in delta.tool_calls or []:
                        call = calls.setdefault(fragment.index, _ModelCall("", "", ""))
                        call.id = fragment.id or call.id
                        if fragment.function is not None:
                            call.name += fragment.function.name or ""
                            call.arguments += fragment.function.arguments or ""
        except openai.APITimeoutError:
            raise  # the turn's deadline, as for a request: a 504
        except (openai.APIError, httpx2.HTTPError, OSError, ValueError) as exc:
            raise AgentError(f"the model's stream broke off ({type(exc).__name__})") from None
        reply.tool_calls = [calls[index] for index in sorted(calls)]
        for number, call in enumerate(reply.tool_calls):
            call.id = call.id or f"call_{number}"
        return reply
