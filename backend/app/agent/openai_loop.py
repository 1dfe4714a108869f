"""The model-driven agent: the OpenAI SDK's chat-completions tool-calling loop.

Works with OpenAI and any server speaking the same wire format (Ollama, vLLM, LiteLLM, Gemini's
OpenAI endpoint) through OPENAI_BASE_URL. The whole turn has one deadline (AGENT_TIMEOUT_S): each
model call, and each retry of it, gets what is left of it.
"""

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessage

from backend.app.agent.base import AgentError, AgentTimeout, HistoryMessage
from backend.app.agent.prompts import SYSTEM_PROMPT
from backend.app.agent.tools import TOOLS, ToolRunner
from backend.app.config import Settings

logger = logging.getLogger(__name__)

MAX_RETRIES = 2
# The SDK's retry policy (statuses, back-off), applied by the loop itself: see _create.
RETRY_STATUSES = frozenset({408, 409, 429})  # and every 5xx
FIRST_RETRY_DELAY_S = 0.5
# Local servers (Ollama, vLLM) need no key, but the SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"
# Said when the model answers nothing (an empty content, or tool calls after its last round):
# an assistant message is never blank.
PARAGRAPH = "\n\n"  # between texts the model wrote in different rounds of one turn
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


def _retry_delay(
    exc: openai.APIConnectionError | openai.APIStatusError, attempt: int
) -> float | None:
    """Seconds to wait before retrying this failure (the server's Retry-After first), or None
    when it is not worth retrying; whether the wait fits in the deadline is the caller's call."""
    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        should_retry = headers.get("x-should-retry")
        if should_retry == "false":
            return None
        if should_retry != "true" and not (
            exc.status_code in RETRY_STATUSES or exc.status_code >= 500
        ):
            return None
        for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            try:
                delay = float(headers.get(header, "")) * scale
            except ValueError:
                continue
            if delay > 0:
                return delay
    return FIRST_RETRY_DELAY_S * 2**attempt * (1 - 0.25 * random.random())


def _agent_error(exc: openai.APIStatusError | openai.APIConnectionError) -> AgentError:
    if isinstance(exc, openai.APIStatusError):
        return AgentError(f"the model server answered {exc.status_code}")
    return AgentError("the model server could not be reached")


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

    @classmethod
    def of(cls, message: ChatCompletionMessage) -> "_Reply":
        return cls(
            content=message.content or "",
            tool_calls=[
                _ModelCall(call.id, call.function.name, call.function.arguments or "")
                for call in message.tool_calls or []
                if call.type == "function"
            ],
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


def _parse_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """The model's JSON arguments, or an error sentence the model gets back as the result."""
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        return {}, f"the arguments were not valid JSON ({exc.msg})"
    if not isinstance(arguments, dict):
        return {}, "the arguments must be a JSON object"
    return arguments, None


class OpenAIAgent:
    def __init__(self, settings: Settings) -> None:
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        self._client = openai.OpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=settings.openai_base_url,
            timeout=settings.agent_timeout_s,
            # The loop retries, not the SDK: the SDK would give every retry the first call's
            # time-out again (a timed-out call is retried twice more) and sleep past the deadline.
            max_retries=0,
        )
        self._model = settings.openai_model
        self._timeout_s = settings.agent_timeout_s
        self._max_rounds = settings.agent_max_tool_rounds
        self._tools = [tool.openai_definition() for tool in TOOLS.values()]

    def run(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: ToolRunner,
        *,
        on_delta: Callable[[str], None] | None = None,
    ) -> str:
        """The tool loop; with `on_delta` the model is streamed and its text passed on live.

        The reply is all the text the model wrote in the turn (usually only the last round's),
        so the streamed pieces always concatenate to exactly the stored reply.
        """
        deadline = time.monotonic() + self._timeout_s
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            *history_to_messages(history),
            {"role": "user", "content": message},
        ]
        texts: list[str] = []
        for round_number in range(self._max_rounds + 1):
            # The round after the last allowed one asks for a final answer without tools.
            offer_tools = round_number < self._max_rounds
            reply = self._complete(messages, deadline, offer_tools, on_delta, bool(texts))
            if reply.content.strip():
                texts.append(reply.content)
            if not reply.tool_calls or not offer_tools:
                break  # tool calls asked for after being told not to are not run
            messages.append(reply.as_message())
            for call in reply.tool_calls:
                arguments, problem = _parse_arguments(call.arguments)
                if problem is None:
                    result = tools(call.name, arguments)
                else:
                    result = {"error": problem}
                    tools.record(call.name, arguments, result)
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )
        return PARAGRAPH.join(texts) if texts else NO_ANSWER

    def _complete(
        self,
        messages: list[dict[str, Any]],
        deadline: float,
        offer_tools: bool,
        on_delta: Callable[[str], None] | None,
        after_text: bool,
    ) -> _Reply:
        if on_delta is None:
            response = self._create(messages, deadline, offer_tools=offer_tools, stream=False)
            # A server that is not quite OpenAI-compatible (or a proxy's error page served with
            # 200) hands the SDK anything; it is the model failing, not a crash of ours.
            choices = getattr(response, "choices", None)
            if not isinstance(choices, list) or not choices:
                raise AgentError("the model returned no choices")
            message = getattr(choices[0], "message", None)
            if not isinstance(message, ChatCompletionMessage):
                raise AgentError("the model's answer was not a chat completion")
            return _Reply.of(message)
        stream = self._create(messages, deadline, offer_tools=offer_tools, stream=True)
        return self._read_stream(stream, deadline, on_delta, after_text)

    def _read_stream(
        self, stream, deadline: float, on_delta: Callable[[str], None], after_text: bool
    ) -> _Reply:
        """Assemble a streamed answer: text goes to `on_delta` as it comes, tool calls are
        put together from their indexed fragments."""
        reply = _Reply()
        calls: dict[int, _ModelCall] = {}
        try:
            with stream:
                for chunk in stream:
                    if time.monotonic() > deadline:
                        raise AgentTimeout(f"the model did not finish within {self._timeout_s:g} s")
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
            raise AgentTimeout(f"the model did not finish within {self._timeout_s:g} s") from None
        except (openai.APIError, OSError) as exc:
            raise AgentError(f"the model's stream broke off ({type(exc).__name__})") from None
        reply.tool_calls = [calls[index] for index in sorted(calls)]
        for number, call in enumerate(reply.tool_calls):
            call.id = call.id or f"call_{number}"
        return reply

    def _create(
        self, messages: list[dict[str, Any]], deadline: float, *, offer_tools: bool, stream: bool
    ):
        """One model call, retried as the SDK would retry it, but only while the deadline allows."""
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentTimeout(f"no answer within {self._timeout_s:g} s")
            try:
                return self._client.chat.completions.create(
                    model=self._model,
                    messages=messages,
                    tools=self._tools,
                    tool_choice="auto" if offer_tools else "none",
                    timeout=remaining,
                    stream=stream,
                )
            except openai.APITimeoutError:
                # The call had all the time left: there is none for a retry.
                raise AgentTimeout(
                    f"the model did not answer within {self._timeout_s:g} s"
                ) from None
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                delay = _retry_delay(exc, attempt)
                if delay is None or attempt == MAX_RETRIES or time.monotonic() + delay >= deadline:
                    raise _agent_error(exc) from None
                logger.info("model call failed (%s); retrying in %.2f s", exc, delay)
                time.sleep(delay)
                attempt += 1
            except openai.OpenAIError as exc:
                raise AgentError(f"the model call failed: {type(exc).__name__}") from None
            except ValueError:  # the SDK decoding a body that is not JSON
                raise AgentError("the model's answer was not valid JSON") from None
