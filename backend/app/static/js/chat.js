// A chat turn: sending a message and reading the reply as it streams, stopping it, and
// following it again after a reload or a dropped connection.
//
// `POST /api/{user_id}/chat` with `Accept: text/event-stream` answers with these events, each
// with an SSE `id:` that increases within the turn:
//
//   start     {conversation_id, turn_id}               the turn's ids (a new conversation when none was given)
//   tool_call {name, arguments, result}                each tool call, as it completes
//   delta     {text}                                   the reply, piece by piece, in order
//   done      {conversation_id, response, tool_calls, message_id, turn_id, stopped?}
//   error     {detail, conversation_id}                the model failed; the user's message is saved
//
// Errors found before the turn starts (401, 404, 422, 429...) come as ordinary JSON responses.
//
// Resuming: the turn id from `start` is kept in sessionStorage until `done`. If the stream
// breaks, `GET .../chat/turns/{turn_id}/events` with `Last-Event-ID: <last id seen>` sends what
// was missed and then the live events; after a reload the page asks for all of them (it has
// nothing yet) and builds the reply's bubble afresh — unless the stored answer is already on
// screen. The message is never sent twice. Stopping: `POST .../turns/{turn_id}/cancel`; the
// stream then ends with a `done` marked `"stopped": true`, holding what was answered so far.

import { ApiError, authHeaders, describeError, errorFrom, request, userPath } from "./api.js";
import { openedConversation } from "./conversation.js";
import { $ } from "./dom.js";
import { AssistantReply, followingNewest, renderMessage, scrollMessagesToEnd } from "./messages.js";
import { reportError } from "./notice.js";
import { refreshConversation } from "./sidebar.js";
import { signOut } from "./signin.js";
import { readServerSentEvents } from "./sse.js";
import { rememberTurn, rememberedTurn, state } from "./state.js";
import { loadTasks } from "./tasks.js";
import { loadUsage } from "./usage.js";

// Waits before each new try to follow a turn whose stream broke (ms); then the page gives up
// and says so (a reload tries again).
const RECONNECT_DELAYS_MS = [300, 1000, 2000, 4000, 8000];

/** The browser's IANA time zone, so "tomorrow at 3pm" means the person's own 3pm. */
function browserTimeZone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return typeof zone === "string" && zone !== "" && zone !== "Etc/Unknown" ? zone : null;
}

/** A turn the page is following: where its events go, and how far it has got. */
class Turn {
  constructor({ turnId = null, conversationId, reply = null }) {
    this.turnId = turnId;
    this.conversationId = conversationId;
    this.view = state.view; // the conversation on screen when the turn began
    this.reply = reply; // the bubble; made on the first event that shows something
    this.lastEventId = null;
    this.ended = false;
    this.stopping = false;
  }

  /** The bubble, made (and put at the end of the list) when first needed. */
  bubble() {
    if (!this.reply) {
      this.reply = new AssistantReply();
      if (this.onScreen()) {
        followingNewest(() => $("message-list").append(this.reply.element), { smooth: true });
      }
    }
    return this.reply;
  }

  onScreen() {
    return this.view === state.view;
  }
}

/** Send `text` and show the reply as it streams. */
export async function sendMessage(text) {
  if (state.turn) return;
  $("chat-empty").hidden = true;
  const userBubble = renderMessage({
    role: "user",
    content: text,
    created_at: new Date().toISOString(),
  });
  const reply = new AssistantReply();
  $("message-list").append(userBubble, reply.element);
  scrollMessagesToEnd({ smooth: true });
  const turn = new Turn({ conversationId: state.conversationId, reply });
  state.turn = turn;
  updateComposer();

  const body = { message: text, conversation_id: state.conversationId };
  const timezone = browserTimeZone();
  if (timezone) body.timezone = timezone; // servers that predate it ignore an unknown field
  try {
    const response = await request(userPath("/chat"), {
      method: "POST",
      headers: { ...authHeaders(), "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await errorFrom(response);
    await readTurn(turn, response);
    if (!turn.ended) {
      if (turn.turnId === null) {
        throw new ApiError(0, "The connection closed before the answer began.", { lost: true });
      }
      await reconnect(turn);
    }
  } catch (error) {
    if (!reportTurnError(error, turn, userBubble, text)) return;
  } finally {
    endTurn(turn);
  }
  afterTurn(turn);
}

/**
 * Carry on with the reply that was streaming into the open conversation before a reload (its
 * turn id is in sessionStorage). Nothing is sent again; the events are read from the start.
 */
export async function resumeStreamingTurn(view) {
  const saved = rememberedTurn();
  if (!saved || state.turn || view !== state.view) return;
  if (saved.conversationId !== state.conversationId) return;
  if (shownAnswerOf(saved.turnId)) {
    rememberTurn(null); // it finished, and its stored answer is already on screen
    return;
  }
  const turn = new Turn(saved);
  state.turn = turn;
  updateComposer();
  try {
    await reconnect(turn);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      turn.reply?.element.remove(); // not this user's turn, or long gone: nothing to show
    } else if (!reportTurnError(error, turn)) {
      return;
    }
  } finally {
    endTurn(turn);
  }
  afterTurn(turn);
}

/** The stored answer of `turnId` when it is on screen (from the conversation's messages). */
function shownAnswerOf(turnId) {
  return [...$("message-list").querySelectorAll("li.message.assistant")].find(
    (item) => item.dataset.turnId === turnId && item.dataset.messageId !== undefined,
  );
}

/** Read a turn's events until the stream ends; `turn.ended` says whether `done` came. */
async function readTurn(turn, response) {
  for await (const event of readServerSentEvents(response)) {
    if (event.id !== null) turn.lastEventId = event.id;
    const data = event.data;
    if (event.name === "start") {
      turn.turnId = data.turn_id ?? null;
      turn.conversationId = data.conversation_id;
      if (turn.turnId) rememberTurn({ turnId: turn.turnId, conversationId: turn.conversationId });
      // A new chat now has an id: keep it, so the next message continues this conversation.
      if (turn.onScreen() && state.conversationId === null) {
        openedConversation(data.conversation_id);
      }
      refreshConversation(data.conversation_id);
      updateComposer();
    } else if (event.name === "tool_call") {
      followingNewest(() => turn.bubble().addToolCall(data));
    } else if (event.name === "delta") {
      turn.bubble().appendText(data.text);
    } else if (event.name === "done") {
      turn.ended = true;
      rememberTurn(null);
      const stored = data.message_id !== undefined && !turn.reply
        ? $("message-list").querySelector(`li[data-message-id="${data.message_id}"]`)
        : null;
      if (!stored) followingNewest(() => turn.bubble().finish(data));
      return;
    } else if (event.name === "error") {
      // The stream already said 200, so a model failure arrives as an event; treat it as the
      // 502 the JSON route would have answered.
      turn.ended = true;
      rememberTurn(null);
      throw new ApiError(502, data.detail, { stored: true });
    }
  }
}

/**
 * Follow a turn through its events route, again and again while the connection keeps failing:
 * each try sends the id of the last event seen, so nothing is shown twice or missed.
 */
async function reconnect(turn) {
  for (let attempt = 0; ; attempt += 1) {
    const headers = { ...authHeaders(), Accept: "text/event-stream" };
    if (turn.lastEventId !== null) headers["Last-Event-ID"] = turn.lastEventId;
    try {
      const path = userPath(`/chat/turns/${encodeURIComponent(turn.turnId)}/events`);
      const response = await request(path, { headers });
      if (!response.ok) throw await errorFrom(response);
      await readTurn(turn, response);
      if (turn.ended) return;
    } catch (error) {
      const retry = error instanceof ApiError && (error.status === 0 || error.status >= 500);
      if (turn.ended || !retry) {
        if (error instanceof ApiError && error.status === 404) rememberTurn(null); // long gone
        throw error;
      }
    }
    if (attempt >= RECONNECT_DELAYS_MS.length) {
      throw new ApiError(0, "The connection closed before the answer was complete.", {
        lost: true,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAYS_MS[attempt]));
  }
}

/** Stop the streaming reply: it ends with what was answered so far, marked as stopped. */
export async function stopTurn() {
  const turn = state.turn;
  if (!turn?.turnId || turn.stopping) return;
  turn.stopping = true;
  // The Stop button goes away with the reply: the focus goes where the next message is typed.
  $("message-input").focus();
  updateComposer();
  try {
    const path = userPath(`/chat/turns/${encodeURIComponent(turn.turnId)}/cancel`);
    const response = await request(path, { method: "POST", headers: authHeaders() });
    // 409: it had already ended; its `done` is on its way.
    if (!response.ok && response.status !== 409) throw await errorFrom(response);
  } catch (error) {
    turn.stopping = false;
    updateComposer();
    reportError(error);
  }
}

function endTurn(turn) {
  if (state.turn === turn) state.turn = null;
  updateComposer();
}

/** Whatever the agent did, the task list, the usage and the conversation order may have changed. */
function afterTurn(turn) {
  if (state.token === null) return; // signed out meanwhile
  if (turn.conversationId !== null && turn.conversationId !== undefined) {
    refreshConversation(turn.conversationId);
  }
  loadTasks();
  loadUsage();
}

/** Show a failed turn in the conversation itself. Returns false when the user was signed out. */
function reportTurnError(error, turn, userBubble = null, text = "") {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signOut(describeError(error));
    return false;
  }
  const known = error instanceof ApiError;
  const saved = known && (error.stored || error.status === 502 || error.status === 504);
  turn.bubble().fail(describeError(error), saved ? error.detail : "");
  if (userBubble && known && !saved && error.status !== 0) {
    // Refused before the turn started (429, 422...): nothing was stored, so give the text back.
    userBubble.classList.add("failed");
    userBubble.querySelector(".message-role").append(" · not sent");
    const input = $("message-input");
    if (input.value.trim() === "") input.value = text;
  }
  if (known && error.status === 429) startCooldown(error.retryAfter ?? 60);
  return true;
}

/** After a 429: the Send button counts down the Retry-After seconds. */
function startCooldown(seconds) {
  state.cooldownUntil = Date.now() + seconds * 1000;
  updateComposer();
  const timer = setInterval(() => {
    updateComposer();
    if (Date.now() >= state.cooldownUntil) clearInterval(timer);
  }, 1000);
}

/** Send while nothing streams (or "Wait N s" after a 429); Stop while a reply streams. */
export function updateComposer() {
  const send = $("send-button");
  const stop = $("stop-button");
  const turn = state.turn;
  const waitSeconds = Math.ceil((state.cooldownUntil - Date.now()) / 1000);
  send.hidden = turn !== null;
  stop.hidden = turn === null;
  send.disabled = waitSeconds > 0;
  send.textContent = waitSeconds > 0 ? `Wait ${waitSeconds} s` : "Send";
  stop.disabled = !turn?.turnId || turn.stopping;
  stop.textContent = turn?.stopping ? "Stopping…" : "Stop";
}
