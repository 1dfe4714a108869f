// Todo Chat — the built-in chat page.
//
// Plain JavaScript, no framework and no build step. This file is also meant to be read as an
// example of a client of the Todo Chat API (see API.md). In order:
//
//   1. Talking to the API: one `api()` helper, its errors, and what they mean in words.
//   2. Streaming a chat turn: `POST /api/{user_id}/chat` read as Server-Sent Events through
//      `fetch()` and a ReadableStream (EventSource cannot POST or send an Authorization header).
//   3. Signing in: a dev token in development, a pasted bearer token in production.
//   4. The sidebar of conversations, paged with `next_cursor`; archiving and the archived list.
//   5. Searching the history: `GET /api/{user_id}/search`, snippets with marked words.
//   6. The messages of one conversation, older pages loaded when scrolling up.
//   7. The task list.
//   8. Wiring: events, keyboard, narrow-screen drawers.
//
// One rule holds everywhere: text that comes from the server (titles, messages, tool arguments,
// error details) is put into the page with `textContent` / `createTextNode`, never as HTML, so
// a message such as `<img src=x onerror=alert(1)>` is shown as those characters and never runs.
// Search snippets are the one piece of server text with markup in it (`<mark>`): they are taken
// apart by hand in `renderSnippet()`, still without ever parsing the server's text as HTML.

// Where the session lives. sessionStorage is per browser tab and is forgotten when the tab
// closes, which suits a bearer token better than localStorage.
const TOKEN_KEY = "todoChat.token";
const USER_KEY = "todoChat.userId";
const CONVERSATION_KEY = "todoChat.conversationId";

const CONVERSATIONS_PAGE = 20;
const MESSAGES_PAGE = 30;
const SEARCH_PAGE = 20;
const SEARCH_DELAY_MS = 250; // search once typing pauses this long (Enter searches at once)
const FIND_MESSAGE_PAGES = 5; // older pages loaded, at most, to show the message a result found

// All of the page's mutable state, in one place.
const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  userId: sessionStorage.getItem(USER_KEY),
  conversationId: null, // the open conversation; null = a new chat, created by its first message
  view: 0, // bumped whenever another conversation is opened, so late answers for the old one are dropped
  conversationsCursor: null,
  loadingConversations: false,
  conversationsWalk: 0, // bumped when the sidebar is reloaded from its first page
  showArchived: false, // the sidebar lists the archived conversations instead of the others
  messagesCursor: null,
  messagesLoad: null, // {view, promise}: the page of older messages being fetched
  searchQuery: "", // the words whose results are shown; "" = the conversation list is shown
  searchCursor: null,
  searchRun: 0, // bumped by each new search (and by its end), so late answers are dropped
  searchLoading: null, // the `searchRun` whose page is being fetched
  searchTimer: 0,
  searchResults: new Map(), // conversation id → {id, title, titleHit, messageHits}, in rank order
  sending: false,
  cooldownUntil: 0, // after a 429: no sending before this time (ms since the epoch)
};

const $ = (id) => document.getElementById(id);

// ============================================================================================
// 1. Talking to the API
// ============================================================================================

/** An HTTP failure: `status` 0 means the server could not be reached at all. */
class ApiError extends Error {
  constructor(status, detail, { retryAfter = null, stored = false, lost = false } = {}) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.lost = lost; // the connection dropped mid-answer: the message may or may not be saved
    this.retryAfter = retryAfter; // seconds, from the Retry-After header of a 429
    this.stored = stored; // the chat turn failed after the user's message was saved
  }
}

/** `/api/{user_id}` + suffix. The user id is the token's `sub`; it must match or the API says 403. */
function userPath(suffix) {
  return `/api/${encodeURIComponent(state.userId)}${suffix}`;
}

/** The headers every `/api/{user_id}/...` request needs. */
function authHeaders() {
  return { Authorization: `Bearer ${state.token}` };
}

/**
 * Call the JSON API: `api("GET", userPath("/tasks"))`, `api("PATCH", path, { title })`.
 * Resolves to the parsed JSON body (null for a 204), rejects with an ApiError.
 */
async function api(method, path, body) {
  const headers = { ...authHeaders(), Accept: "application/json" };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "The server could not be reached.");
  }
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? null : response.json();
}

/** Turn an error response into an ApiError. Errors look like `{"detail": "..."}` (FastAPI). */
async function errorFrom(response) {
  let detail = "";
  let stored = false;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") {
      detail = body.detail;
    } else if (Array.isArray(body.detail) && body.detail.length > 0) {
      // A 422 from request validation: a list of {loc, msg, type}; the first says enough.
      detail = String(body.detail[0].msg ?? "");
    }
    // A failed chat turn (502/504) names the conversation its saved message went into.
    stored = body.conversation_id !== undefined;
  } catch {
    // Not JSON (a proxy's HTML error page, say): the status alone has to do.
  }
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new ApiError(response.status, detail, {
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
    stored,
  });
}

/** What went wrong, in words a person can act on. */
function describeError(error) {
  if (!(error instanceof ApiError)) {
    return "Something went wrong in this page. Reload it to continue.";
  }
  const said = error.detail ? ` (The server said: ${error.detail})` : "";
  switch (error.status) {
    case 0:
      return error.lost
        ? "The connection was lost before the answer was complete. Reload the page to see what was saved."
        : "The server could not be reached. Check your connection and try again.";
    case 401:
    case 403:
      return "Your session has ended. Please sign in again.";
    case 404:
      return "That was not found: it may have been deleted in another tab.";
    case 413:
      return "That is too large for the server.";
    case 422:
      return `The server did not accept that.${said}`;
    case 429:
      return `Too many messages. Please wait ${error.retryAfter ?? 60} seconds, then try again.`;
    // For these two the server's own words are shown apart, as details (see AssistantReply.fail).
    case 502:
      return "The model failed to answer. Your message is saved; send another message to try again.";
    case 504:
      return "The model took too long to answer. Your message is saved; send another message to try again.";
    default:
      return `The server had a problem (HTTP ${error.status}). Please try again.${said}`;
  }
}

/**
 * Show an error in the page. A 401/403 means the token is no longer good: back to sign-in.
 * Returns true when it signed the user out.
 */
function reportError(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signOut(describeError(error));
    return true;
  }
  showNotice(describeError(error));
  return false;
}

function showNotice(text, kind = "error") {
  $("notice-text").textContent = text;
  $("notice").classList.toggle("info", kind === "info");
  $("notice").hidden = false;
}

function hideNotice() {
  $("notice").hidden = true;
  $("notice-text").textContent = "";
}

// ============================================================================================
// 2. Streaming a chat turn
// ============================================================================================

/**
 * Read a `text/event-stream` response body and yield its events as `{ name, data }`, data
 * parsed from JSON. An event is a block of `field: value` lines ended by a blank line:
 *
 *     event: delta
 *     data: {"text": "Added \"Buy "}
 *
 * Lines starting with ":" are comments (the server's keep-alives) and are skipped.
 */
async function* readServerSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseServerSentEvent(block);
      if (event) yield event;
    }
  }
}

function parseServerSentEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
}

/**
 * One chat turn, streamed. `POST /api/{user_id}/chat` with `Accept: text/event-stream` answers
 * with these events:
 *
 *   start     {conversation_id}                      the conversation (new when none was given)
 *   tool_call {name, arguments, result}              each tool call, as it completes
 *   delta     {text}                                 the reply, piece by piece, in order
 *   done      {conversation_id, response, tool_calls, message_id}   the same as the JSON answer
 *   error     {detail, conversation_id}              the model failed; the user's message is saved
 *
 * Errors found before the turn starts (401, 404, 422, 429...) come as ordinary JSON responses.
 */
async function sendMessage(text) {
  const view = state.view;
  state.sending = true;
  updateSendButton();
  $("chat-empty").hidden = true;

  const now = new Date().toISOString();
  const userBubble = renderMessage({ role: "user", content: text, created_at: now });
  $("message-list").append(userBubble);
  const reply = new AssistantReply();
  $("message-list").append(reply.element);
  scrollMessagesToEnd();

  let finished = false;
  try {
    let response;
    try {
      response = await fetch(userPath("/chat"), {
        method: "POST",
        headers: {
          ...authHeaders(),
          "Content-Type": "application/json",
          Accept: "text/event-stream",
        },
        body: JSON.stringify({ message: text, conversation_id: state.conversationId }),
      });
    } catch {
      throw new ApiError(0, "The server could not be reached.");
    }
    if (!response.ok) throw await errorFrom(response);

    for await (const event of readServerSentEvents(response)) {
      if (event.name === "start") {
        // A new chat now has an id: keep it, so the next message continues this conversation.
        if (view === state.view && state.conversationId === null) {
          openedConversation(event.data.conversation_id);
        }
        refreshConversation(event.data.conversation_id);
      } else if (event.name === "tool_call") {
        reply.addToolCall(event.data);
      } else if (event.name === "delta") {
        reply.appendText(event.data.text);
      } else if (event.name === "done") {
        reply.finish(event.data.response, event.data.message_id);
        finished = true;
      } else if (event.name === "error") {
        // The stream already said 200, so a model failure arrives as an event; treat it as the
        // 502 the JSON route would have answered.
        throw new ApiError(502, event.data.detail, { stored: true });
      }
      if (view === state.view) scrollMessagesToEnd();
    }
    if (!finished) {
      throw new ApiError(0, "The connection closed before the answer was complete.", {
        lost: true,
      });
    }
  } catch (error) {
    if (!reportTurnError(error, reply, userBubble, text)) return;
  } finally {
    state.sending = false;
    updateSendButton();
  }
  // Whatever the agent did, the task list and the order of the conversations may have changed.
  if (view === state.view && state.conversationId !== null) {
    refreshConversation(state.conversationId);
  }
  loadTasks();
}

/** Show a failed turn in the conversation itself. Returns false when the user was signed out. */
function reportTurnError(error, reply, userBubble, text) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signOut(describeError(error));
    return false;
  }
  const known = error instanceof ApiError;
  const saved = known && (error.stored || error.status === 502 || error.status === 504);
  reply.fail(describeError(error), saved ? error.detail : "");
  if (known && !saved && error.status !== 0) {
    // Refused before the turn started (429, 422...): nothing was stored, so give the text back.
    userBubble.classList.add("failed");
    userBubble.querySelector(".message-role").append(" · not sent");
    const input = $("message-input");
    if (input.value.trim() === "") input.value = text;
  }
  if (known && error.status === 429) startCooldown(error.retryAfter ?? 60);
  return true;
}

/** The assistant's bubble while its answer streams in: tool cards first, then the text. */
class AssistantReply {
  constructor() {
    this.element = renderMessage({
      role: "assistant",
      content: "",
      created_at: new Date().toISOString(),
    });
    this.text = this.element.querySelector(".message-text");
    this.text.classList.add("typing");
    this.element.setAttribute("aria-busy", "true");
  }

  addToolCall(call) {
    this.text.before(renderToolCard(call));
  }

  appendText(piece) {
    this.text.append(document.createTextNode(piece));
  }

  finish(fullText, messageId) {
    // The deltas concatenate to the response; setting it once more guards against a lost piece.
    this.text.textContent = fullText;
    if (messageId !== undefined) this.element.dataset.messageId = String(messageId);
    this.text.classList.remove("typing");
    this.element.removeAttribute("aria-busy");
  }

  fail(words, details = "") {
    this.text.classList.remove("typing");
    this.element.removeAttribute("aria-busy");
    this.element.classList.add("failed");
    if (this.text.textContent === "") this.text.remove();
    const error = document.createElement("p");
    error.className = "message-error";
    error.textContent = words;
    this.element.append(error);
    if (details) {
      const more = document.createElement("p");
      more.className = "message-details";
      more.textContent = `Details: ${details}`;
      this.element.append(more);
    }
  }
}

/** After a 429: the Send button counts down the Retry-After seconds. */
function startCooldown(seconds) {
  state.cooldownUntil = Date.now() + seconds * 1000;
  updateSendButton();
  const timer = setInterval(() => {
    updateSendButton();
    if (Date.now() >= state.cooldownUntil) clearInterval(timer);
  }, 1000);
}

function updateSendButton() {
  const button = $("send-button");
  const waitSeconds = Math.ceil((state.cooldownUntil - Date.now()) / 1000);
  button.disabled = state.sending || waitSeconds > 0;
  button.textContent = state.sending ? "Sending…" : waitSeconds > 0 ? `Wait ${waitSeconds} s` : "Send";
}

// ============================================================================================
// 3. Signing in
// ============================================================================================

/**
 * Is this a development server? Development has `POST /api/auth/dev-token`; production does not
 * (404). An empty body is enough to tell: the route answers 422 (user_id missing).
 */
async function isDevelopmentServer() {
  const response = await fetch("/api/auth/dev-token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  return response.status !== 404 && response.status !== 405;
}

async function showSignIn(message) {
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  for (const id of ["sign-out", "signed-in-as", "toggle-conversations", "toggle-tasks"]) {
    $(id).hidden = true;
  }
  if (message) showNotice(message);
  else hideNotice();
  $("signin-checking").hidden = false;
  $("dev-signin-form").hidden = true;
  $("token-signin-form").hidden = true;
  let development;
  try {
    development = await isDevelopmentServer();
  } catch {
    showNotice("The server could not be reached. Reload the page to try again.");
    development = false;
  }
  $("signin-checking").hidden = true;
  const form = development ? $("dev-signin-form") : $("token-signin-form");
  form.hidden = false;
  form.querySelector("input, textarea").focus();
}

/** Development: `POST /api/auth/dev-token {"user_id"}` → `{"access_token", "token_type"}`. */
async function signInWithUserId(userId) {
  let response;
  try {
    response = await fetch("/api/auth/dev-token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: userId }),
    });
  } catch {
    throw new ApiError(0, "The server could not be reached.");
  }
  if (!response.ok) throw await errorFrom(response);
  const { access_token: token } = await response.json();
  signedIn(token, userId);
}

/** Production: the token comes from the auth server; its `sub` claim is the user id. */
function signInWithToken(token) {
  const userId = subjectOf(token);
  if (!userId) {
    showNotice("That does not look like a bearer token: a JWT is three parts separated by dots, with a `sub` claim.");
    return;
  }
  signedIn(token, userId);
}

/** The `sub` claim of a JWT, read without verifying it (the server verifies every request). */
function subjectOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)));
    const sub = JSON.parse(json).sub;
    return typeof sub === "string" && sub !== "" ? sub : null;
  } catch {
    return null;
  }
}

function signedIn(token, userId) {
  state.token = token;
  state.userId = userId;
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, userId);
  hideNotice();
  showApp();
}

function signOut(message) {
  if (state.token === null) {
    // Already signed out (several requests can fail with 401 at once): just say why.
    if (message) showNotice(message);
    return;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  sessionStorage.removeItem(CONVERSATION_KEY);
  state.token = null;
  state.userId = null;
  state.conversationId = null;
  state.view += 1;
  endSearch();
  showArchivedList(false, { load: false });
  $("conversation-list").replaceChildren();
  $("message-list").replaceChildren();
  $("task-list").replaceChildren();
  showSignIn(message);
}

async function showApp() {
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  for (const id of ["sign-out", "signed-in-as", "toggle-conversations", "toggle-tasks"]) {
    $(id).hidden = false;
  }
  $("signed-in-as").textContent = `Signed in as ${state.userId}`;
  closePanels();
  $("message-input").focus(); // ready to type at once
  const remembered = Number.parseInt(sessionStorage.getItem(CONVERSATION_KEY) ?? "", 10);
  if (Number.isInteger(remembered)) {
    openConversation(remembered);
  } else {
    newChat();
  }
  loadConversations({ reset: true });
  loadTasks();
}

// ============================================================================================
// 4. The sidebar of conversations
// ============================================================================================

/**
 * `GET /api/{user_id}/conversations?limit=&cursor=&archived=` → `{data, has_more, next_cursor}`,
 * the most recently updated first. Pass `next_cursor` back as `cursor` for the next page.
 * `archived=false` (the default) lists the conversations in use, `archived=true` the archived
 * ones (`all`: both).
 */
async function loadConversations({ reset = false } = {}) {
  if (state.loadingConversations && !reset) return;
  if (reset) state.conversationsWalk += 1; // a page of an older walk is dropped when it lands
  const walk = state.conversationsWalk;
  state.loadingConversations = true;
  const query = new URLSearchParams({
    limit: String(CONVERSATIONS_PAGE),
    archived: String(state.showArchived),
  });
  if (!reset && state.conversationsCursor) query.set("cursor", state.conversationsCursor);
  try {
    const page = await api("GET", userPath(`/conversations?${query}`));
    if (walk !== state.conversationsWalk) return;
    const list = $("conversation-list");
    if (reset) list.replaceChildren();
    for (const conversation of page.data) {
      // Already shown: it was just updated and put at the top (refreshConversation).
      if (list.querySelector(`li[data-id="${conversation.id}"]`)) continue;
      list.append(renderConversation(conversation));
    }
    state.conversationsCursor = page.has_more ? page.next_cursor : null;
    $("more-conversations").hidden = !page.has_more;
    updateConversationsEmpty();
    if (page.has_more) recheckLoadMore["more-conversations"]?.();
  } catch (error) {
    reportError(error);
  } finally {
    if (walk === state.conversationsWalk) state.loadingConversations = false;
  }
}

/**
 * Re-read one conversation and put it at the top of the sidebar (it was just updated).
 * Chatting in an archived conversation un-archives it on the server: its `archived` says which
 * list it now belongs to, and it leaves the archived list if that is the one shown.
 */
async function refreshConversation(id) {
  const walk = state.conversationsWalk;
  try {
    const conversation = await api("GET", userPath(`/conversations/${id}`));
    if (id === state.conversationId) showChatTitle(conversation);
    if (walk !== state.conversationsWalk) return; // the list was reloaded meanwhile
    const list = $("conversation-list");
    list.querySelector(`li[data-id="${id}"]`)?.remove();
    if (isArchived(conversation) === state.showArchived) {
      list.prepend(renderConversation(conversation));
    }
    updateConversationsEmpty();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) reportError(error);
  }
}

function titleOf(conversation) {
  return conversation.title || "Untitled chat";
}

function isArchived(conversation) {
  return conversation.archived === true;
}

/** The open conversation's title above its messages, with an "Archived" badge if it is. */
function showChatTitle(conversation) {
  $("chat-title").textContent = conversation ? titleOf(conversation) : "New chat";
  $("chat-archived").hidden = !(conversation && isArchived(conversation));
}

function updateConversationsEmpty() {
  $("conversations-empty").hidden = $("conversation-list").children.length > 0;
}

/** One sidebar row: the title (a button that opens it), then Rename, (Un)archive and Delete. */
function renderConversation(conversation) {
  const item = document.createElement("li");
  item.dataset.id = String(conversation.id);
  item.classList.toggle("selected", conversation.id === state.conversationId);

  const open = document.createElement("button");
  open.type = "button";
  open.className = "conversation-open";
  open.textContent = titleOf(conversation);
  open.title = titleOf(conversation);
  if (conversation.id === state.conversationId) open.setAttribute("aria-current", "true");
  open.addEventListener("click", () => {
    openConversation(conversation.id);
    closePanels();
    $("message-input").focus();
  });

  const actions = document.createElement("span");
  actions.className = "conversation-actions";
  const rename = smallButton("✎", `Rename “${titleOf(conversation)}”`, "secondary");
  rename.addEventListener("click", () => startRename(item, conversation));
  const archived = isArchived(conversation);
  const archive = archived
    ? smallButton("⤒", `Unarchive “${titleOf(conversation)}”`, "secondary")
    : smallButton("⤓", `Archive “${titleOf(conversation)}”`, "secondary");
  archive.addEventListener("click", () => setArchived(item, conversation, !archived));
  const remove = smallButton("✕", `Delete “${titleOf(conversation)}”`, "danger");
  remove.addEventListener("click", () => deleteConversation(conversation));
  actions.append(rename, archive, remove);

  item.append(open, actions);
  return item;
}

/** A compact button whose accessible name (and tooltip) is `label`; `symbol` is only drawn. */
function smallButton(symbol, label, kind) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `${kind} small`;
  button.textContent = symbol;
  button.title = label;
  button.setAttribute("aria-label", label);
  return button;
}

/** Rename in place: a small form replaces the row; Enter saves, Escape cancels. */
function startRename(item, conversation) {
  const form = document.createElement("form");
  form.className = "rename-form";
  const input = document.createElement("input");
  input.value = conversation.title ?? "";
  input.maxLength = 200;
  input.required = true;
  input.setAttribute("aria-label", "New title");
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "small";
  save.textContent = "Save";
  form.append(input, save);

  const restore = (updated) => {
    const row = renderConversation(updated);
    item.replaceWith(row);
    row.querySelector(".conversation-open").focus();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      restore(conversation);
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      // PATCH /api/{user_id}/conversations/{id} {"title"} → the updated conversation.
      const updated = await api("PATCH", userPath(`/conversations/${conversation.id}`), {
        title: input.value.trim(),
      });
      if (updated.id === state.conversationId) showChatTitle(updated);
      restore(updated);
    } catch (error) {
      save.disabled = false;
      reportError(error);
    }
  });
  item.replaceChildren(form);
  input.focus();
  input.select();
}

async function deleteConversation(conversation) {
  if (!window.confirm(`Delete “${titleOf(conversation)}” and all its messages?`)) return;
  try {
    // DELETE /api/{user_id}/conversations/{id} → 204; its messages go with it.
    await api("DELETE", userPath(`/conversations/${conversation.id}`));
    $("conversation-list").querySelector(`li[data-id="${conversation.id}"]`)?.remove();
    updateConversationsEmpty();
    if (conversation.id === state.conversationId) newChat();
    $("new-chat").focus();
  } catch (error) {
    reportError(error);
  }
}

/**
 * Archive a conversation, or bring it back: `PATCH /api/{user_id}/conversations/{id}
 * {"archived": true}` → the conversation, now `"archived": true`. It leaves the default list
 * (`?archived=false`) for `?archived=true`; its messages stay, search still finds them, and it
 * can be opened and continued (a new message un-archives it). `{"archived": false}` brings it
 * back. The open conversation stays open either way.
 */
async function setArchived(item, conversation, archived) {
  const hadFocus = item.contains(document.activeElement); // (a disabled button loses it)
  const buttons = item.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;
  try {
    const updated = await api("PATCH", userPath(`/conversations/${conversation.id}`), {
      archived,
    });
    // The row leaves this list; the keyboard focus goes to the row that takes its place.
    const next = item.nextElementSibling ?? item.previousElementSibling;
    item.remove();
    updateConversationsEmpty();
    if (hadFocus) (next?.querySelector(".conversation-open") ?? $("toggle-archived")).focus();
    if (updated.id === state.conversationId) showChatTitle(updated);
    $("sidebar-status").textContent = archived
      ? `Archived “${titleOf(updated)}”. It is under “Show archived”.`
      : `“${titleOf(updated)}” is back in your chats.`;
  } catch (error) {
    for (const button of buttons) button.disabled = false;
    if (hadFocus && !item.contains(document.activeElement)) item.querySelector("button").focus();
    if (!reportError(error) && error instanceof ApiError && error.status === 404) {
      item.remove(); // deleted in another tab
      updateConversationsEmpty();
    }
  }
}

/** Switch the sidebar between the conversations in use and the archived ones. */
function showArchivedList(show, { load = true } = {}) {
  state.showArchived = show;
  state.conversationsWalk += 1; // a page of the other list still on its way is dropped
  state.conversationsCursor = null;
  $("conversations-title").textContent = show ? "Archived chats" : "Chats";
  $("toggle-archived").textContent = show ? "Back to chats" : "Show archived";
  $("conversations-empty").textContent = show ? "No archived chats." : "No conversations yet.";
  $("conversation-list").replaceChildren();
  $("conversations-empty").hidden = true;
  $("more-conversations").hidden = true;
  if (load) loadConversations({ reset: true });
}

function markSelected() {
  for (const item of $("conversation-list").children) {
    const selected = item.dataset.id === String(state.conversationId);
    item.classList.toggle("selected", selected);
    const open = item.querySelector(".conversation-open");
    if (!open) continue; // a row being renamed
    if (selected) open.setAttribute("aria-current", "true");
    else open.removeAttribute("aria-current");
  }
  for (const item of $("search-results").children) {
    const selected = item.dataset.id === String(state.conversationId);
    item.classList.toggle("selected", selected);
    const open = item.querySelector("button");
    if (selected) open.setAttribute("aria-current", "true");
    else open.removeAttribute("aria-current");
  }
}

// ============================================================================================
// 5. Searching the history
// ============================================================================================

/**
 * `GET /api/{user_id}/search?q=&limit=&cursor=` → a page `{data, has_more, next_cursor}` of
 * hits, best first:
 *
 *   {conversation_id, conversation_title, message_id, role, snippet, created_at}
 *
 * A hit is a message (`role` "user" or "assistant") or, with `message_id` and `role` null, a
 * conversation whose title matched. `snippet` is a few words around the match, HTML-escaped,
 * with the matched words in `<mark>…</mark>`. The hits of one conversation come together, so
 * this page shows one result per conversation: its title, its best snippet, how many more.
 *
 * Any text is a valid `q` (1-200 characters): quotes, `*`, `-`, `OR` are plain words to the
 * server, never an error; a query without any word simply finds nothing. Archived
 * conversations are searched too.
 */
async function runSearch({ more = false } = {}) {
  clearTimeout(state.searchTimer);
  const query = more ? state.searchQuery : $("search-input").value.trim();
  if (!query) {
    endSearch();
    return;
  }
  if (more) {
    if (state.searchLoading === state.searchRun || !state.searchCursor) return;
  } else {
    state.searchRun += 1; // an answer for earlier words is dropped when it lands
    state.searchQuery = query;
    state.searchCursor = null;
  }
  const run = state.searchRun;
  state.searchLoading = run;
  // The results take the conversation list's place (the old results stay until new ones come).
  $("list-view").hidden = true;
  $("search-view").hidden = false;
  setSearchStatus(more ? "Loading more results…" : "Searching…");
  const params = new URLSearchParams({ q: query, limit: String(SEARCH_PAGE) });
  if (more) params.set("cursor", state.searchCursor);
  try {
    const page = await api("GET", userPath(`/search?${params}`));
    if (run !== state.searchRun) return;
    if (!more) {
      state.searchResults = new Map();
      $("search-results").replaceChildren();
    }
    showHits(page.data);
    state.searchCursor = page.has_more ? page.next_cursor : null;
    $("more-results").hidden = !page.has_more;
    setSearchStatus(describeResults(query, page.has_more));
    if (page.has_more) recheckLoadMore["more-results"]?.();
  } catch (error) {
    if (run !== state.searchRun) return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      reportError(error); // back to sign-in
    } else {
      setSearchStatus(`The search failed. ${describeError(error)}`, { error: true });
    }
  } finally {
    if (state.searchLoading === run) state.searchLoading = null;
  }
}

/** Typing searches once the typing pauses; an emptied box brings the conversation list back. */
function scheduleSearch() {
  clearTimeout(state.searchTimer);
  if ($("search-input").value.trim() === "") {
    endSearch();
    return;
  }
  state.searchTimer = setTimeout(() => runSearch(), SEARCH_DELAY_MS);
}

/** Back to the conversation list: the box is emptied and an answer still on its way dropped. */
function endSearch({ focus = false } = {}) {
  clearTimeout(state.searchTimer);
  state.searchRun += 1;
  state.searchQuery = "";
  state.searchCursor = null;
  state.searchResults = new Map();
  $("search-input").value = "";
  $("search-results").replaceChildren();
  $("search-status").textContent = "";
  $("more-results").hidden = true;
  $("search-view").hidden = true;
  $("list-view").hidden = false;
  if (focus) $("search-input").focus();
}

function setSearchStatus(text, { error = false } = {}) {
  $("search-status").textContent = text;
  $("search-status").classList.toggle("error", error);
}

function describeResults(query, hasMore) {
  const chats = state.searchResults.size;
  if (chats === 0) return `No chats match “${query}”.`;
  let hits = 0;
  for (const result of state.searchResults.values()) {
    hits += result.messageHits.length + (result.titleHit ? 1 : 0);
  }
  const counted = `${plural(hits, "match", "matches")} in ${plural(chats, "chat", "chats")}`;
  return hasMore ? `${counted} so far; more below.` : `${counted}.`;
}

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/** Add a page of hits: each joins its conversation's result (a new one, or one shown already). */
function showHits(hits) {
  const changed = new Set();
  for (const hit of hits) {
    let result = state.searchResults.get(hit.conversation_id);
    if (!result) {
      result = {
        id: hit.conversation_id,
        title: hit.conversation_title,
        titleHit: null, // the hit of the title, if it matched
        messageHits: [], // best first
      };
      state.searchResults.set(result.id, result);
    }
    if (hit.message_id === null) result.titleHit = hit;
    else result.messageHits.push(hit);
    changed.add(result);
  }
  const list = $("search-results");
  for (const result of changed) {
    const item = renderSearchResult(result);
    const shown = list.querySelector(`li[data-id="${result.id}"]`);
    if (!shown) {
      list.append(item);
      continue;
    }
    const hadFocus = shown.contains(document.activeElement);
    shown.replaceWith(item);
    if (hadFocus) item.querySelector("button").focus();
  }
}

/**
 * One result: a button with the conversation's title, the best matching message's snippet and
 * its date. Marked words become `<mark>` elements; every other character stays text.
 */
function renderSearchResult(result) {
  const item = document.createElement("li");
  item.dataset.id = String(result.id);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "search-result";
  if (result.id === state.conversationId) {
    item.classList.add("selected");
    button.setAttribute("aria-current", "true");
  }

  const title = document.createElement("span");
  title.className = "result-title";
  if (result.titleHit) title.append(renderSnippet(result.titleHit.snippet));
  else title.textContent = titleOf(result);
  button.append(title);

  const [best] = result.messageHits;
  if (best) {
    const snippet = document.createElement("span");
    snippet.className = "result-snippet";
    const who = document.createElement("span");
    who.className = "result-role";
    who.textContent = best.role === "user" ? "You: " : "Assistant: ";
    snippet.append(who, renderSnippet(best.snippet));
    button.append(snippet);
  }

  const meta = document.createElement("span");
  meta.className = "result-meta";
  const shown = best ?? result.titleHit;
  const time = document.createElement("time");
  time.dateTime = shown.created_at;
  time.textContent = formatTime(new Date(shown.created_at));
  meta.append(time);
  const others = result.messageHits.length - (best ? 1 : 0);
  if (others > 0) meta.append(` · ${plural(others, "more match", "more matches")}`);
  button.append(meta);

  button.addEventListener("click", () => {
    // The matched messages are marked, the best one scrolled to (see highlightMessages).
    openConversation(result.id, { highlight: result.messageHits.map((hit) => hit.message_id) });
    closePanels();
    $("message-input").focus();
  });
  item.append(button);
  return item;
}

/**
 * A snippet → text nodes and `<mark>` elements, without ever handing the server's text to the
 * browser's HTML parser: the server escapes everything and adds only `<mark>` and `</mark>`, so
 * the snippet is split on those two literal tags and each piece between them is unescaped back
 * into the plain text it was. Anything else that looks like a tag stays visible text.
 *
 *   "&lt;b&gt;<mark>bold</mark>&lt;/b&gt; &amp; co"  →  "<b>", <mark>"bold"</mark>, "</b> & co"
 */
function renderSnippet(snippet) {
  const fragment = document.createDocumentFragment();
  let marked = false;
  // With a capturing group, split() keeps the tags:
  //   "a <mark>b</mark>" → ["a ", "<mark>", "b", "</mark>", ""]
  for (const piece of snippet.split(/(<mark>|<\/mark>)/)) {
    if (piece === "<mark>" || piece === "</mark>") {
      marked = piece === "<mark>";
    } else if (piece !== "") {
      const text = document.createTextNode(unescapeHtml(piece));
      if (marked) {
        const mark = document.createElement("mark");
        mark.append(text);
        fragment.append(mark);
      } else {
        fragment.append(text);
      }
    }
  }
  return fragment;
}

// What Python's html.escape (the server) produces, and the character each stands for.
const HTML_ENTITIES = {
  "&lt;": "<",
  "&gt;": ">",
  "&amp;": "&",
  "&quot;": '"',
  "&#x27;": "'",
  "&#39;": "'",
};

/** Undo HTML escaping in one pass, so "&amp;lt;" becomes the text "&lt;" and not "<". */
function unescapeHtml(text) {
  return text.replace(/&(?:lt|gt|amp|quot|#x27|#39);/g, (entity) => HTML_ENTITIES[entity]);
}

/**
 * After a search result is opened: mark the messages it matched and scroll to the best one.
 * That one may be older than the first page: a few older pages are loaded to find it (best
 * effort; an old enough message is simply not marked).
 */
async function highlightMessages(view, messageIds) {
  const [best] = messageIds;
  if (best === undefined) return;
  const find = (id) => $("message-list").querySelector(`li[data-message-id="${id}"]`);
  for (let pages = 0; pages < FIND_MESSAGE_PAGES; pages += 1) {
    if (find(best) || !state.messagesCursor) break;
    await loadOlderMessages();
    if (view !== state.view) return;
  }
  for (const id of messageIds) find(id)?.classList.add("found");
  find(best)?.scrollIntoView({ block: "center" });
}

// ============================================================================================
// 6. The messages of one conversation
// ============================================================================================

/** Start a new chat: nothing is created until its first message is sent. */
function newChat() {
  state.view += 1;
  state.conversationId = null;
  state.messagesCursor = null;
  sessionStorage.removeItem(CONVERSATION_KEY);
  showChatTitle(null);
  $("message-list").replaceChildren();
  $("older-messages").hidden = true;
  $("chat-empty").hidden = false;
  markSelected();
}

/** Remember the open conversation (it is reopened after a reload). */
function openedConversation(id) {
  state.conversationId = id;
  sessionStorage.setItem(CONVERSATION_KEY, String(id));
  markSelected();
}

/** Open a conversation; `highlight`: ids of messages a search found in it, best first. */
async function openConversation(id, { highlight = [] } = {}) {
  state.view += 1;
  const view = state.view;
  openedConversation(id);
  state.messagesCursor = null;
  $("message-list").replaceChildren();
  $("older-messages").hidden = true;
  $("chat-empty").hidden = true;
  $("chat-title").textContent = "Loading…";
  $("chat-archived").hidden = true;
  try {
    const conversation = await api("GET", userPath(`/conversations/${id}`));
    if (view !== state.view) return;
    showChatTitle(conversation);
    await loadOlderMessages();
    if (view === state.view) await highlightMessages(view, highlight);
  } catch (error) {
    if (view !== state.view) return;
    if (error instanceof ApiError && error.status === 404) {
      newChat(); // deleted meanwhile (in another tab, say): start afresh
    } else {
      $("chat-title").textContent = "Not loaded";
      reportError(error);
    }
  }
}

/**
 * The newest messages first, then older pages: `GET .../messages?order=desc&limit=&cursor=`
 * gives newest-first pages, so each page is reversed and put above what is already shown.
 * A call while a page is on its way waits for that page rather than asking twice.
 */
function loadOlderMessages() {
  if (state.conversationId === null) return Promise.resolve();
  if (state.messagesLoad?.view === state.view) return state.messagesLoad.promise;
  const view = state.view;
  const promise = fetchOlderMessages(view).finally(() => {
    if (state.messagesLoad?.view === view) state.messagesLoad = null;
  });
  state.messagesLoad = { view, promise };
  return promise;
}

async function fetchOlderMessages(view) {
  const query = new URLSearchParams({ order: "desc", limit: String(MESSAGES_PAGE) });
  if (state.messagesCursor) query.set("cursor", state.messagesCursor);
  try {
    const page = await api(
      "GET",
      userPath(`/conversations/${state.conversationId}/messages?${query}`),
    );
    if (view !== state.view) return;
    const box = $("messages");
    const firstPage = state.messagesCursor === null;
    const distanceFromBottom = box.scrollHeight - box.scrollTop;
    const older = page.data.slice().reverse().map(renderMessage);
    $("message-list").prepend(...older);
    state.messagesCursor = page.has_more ? page.next_cursor : null;
    $("older-messages").hidden = !page.has_more;
    $("chat-empty").hidden = $("message-list").children.length > 0;
    // Keep what the reader was looking at in place (or start at the newest message).
    if (firstPage) scrollMessagesToEnd();
    else box.scrollTop = box.scrollHeight - distanceFromBottom;
  } catch (error) {
    if (view === state.view) reportError(error);
  }
}

function scrollMessagesToEnd() {
  const box = $("messages");
  box.scrollTop = box.scrollHeight;
}

/** A message: `{role, content, tool_calls, created_at}` → a list item, built from text only. */
function renderMessage(message) {
  const item = document.createElement("li");
  item.className = `message ${message.role}`;
  if (message.id !== undefined) item.dataset.messageId = String(message.id); // for search results
  const who = document.createElement("div");
  who.className = "message-role";
  who.textContent = message.role === "user" ? "You" : "Assistant";
  if (message.created_at) {
    const time = document.createElement("time");
    time.dateTime = message.created_at;
    time.textContent = ` · ${formatTime(new Date(message.created_at))}`;
    who.append(time);
  }
  item.append(who);
  for (const call of message.tool_calls ?? []) item.append(renderToolCard(call));
  const text = document.createElement("div");
  text.className = "message-text";
  text.textContent = message.content;
  item.append(text);
  return item;
}

/** "14:05" today, "24/11/2026, 14:05" before: the server's UTC times shown in local time. */
function formatTime(date) {
  const today = date.toDateString() === new Date().toDateString();
  return today
    ? date.toLocaleTimeString([], { timeStyle: "short" })
    : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

/** JSON on one line that wraps: `{ "title": "Buy groceries" }` (newlines in strings stay \n). */
function compactJson(value) {
  return JSON.stringify(value ?? null, null, 1).replace(/\n\s*/g, " ");
}

/** A tool call `{name, arguments, result}` as a small card. */
function renderToolCard(call) {
  const card = document.createElement("div");
  card.className = "tool-card";
  const name = document.createElement("div");
  name.className = "tool-name";
  name.textContent = call.name;
  const details = document.createElement("dl");
  for (const [label, value] of [["arguments", call.arguments], ["result", call.result]]) {
    const term = document.createElement("dt");
    term.textContent = label;
    const pre = document.createElement("pre");
    pre.textContent = compactJson(value);
    const definition = document.createElement("dd");
    definition.append(pre);
    details.append(term, definition);
  }
  card.append(name, details);
  return card;
}

// ============================================================================================
// 7. The task list
// ============================================================================================

/** `GET /api/{user_id}/tasks` → every task, oldest first. */
async function loadTasks() {
  try {
    const tasks = await api("GET", userPath("/tasks"));
    $("task-list").replaceChildren(...tasks.map(renderTask));
    $("tasks-empty").hidden = tasks.length > 0;
  } catch (error) {
    reportError(error);
  }
}

/** A task with a checkbox; ticking it calls `PATCH .../tasks/{id}/complete` (a toggle). */
function renderTask(task) {
  const item = document.createElement("li");
  item.dataset.id = String(task.id);
  item.classList.toggle("completed", task.completed);
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = task.completed;
  const title = document.createElement("span");
  title.className = "task-title";
  title.textContent = task.title;
  if (task.description) {
    const description = document.createElement("span");
    description.className = "task-description";
    description.textContent = task.description;
    title.append(description);
  }
  const id = document.createElement("span");
  id.className = "task-id";
  id.textContent = `#${task.id}`;
  label.append(box, title, id);
  item.append(label);

  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const updated = await api("PATCH", userPath(`/tasks/${task.id}/complete`));
      const row = renderTask(updated);
      item.replaceWith(row);
      row.querySelector("input").focus();
    } catch (error) {
      box.checked = !box.checked; // it did not change on the server
      box.disabled = false;
      if (!reportError(error) && error instanceof ApiError && error.status === 404) loadTasks();
    }
  });
  return item;
}

// ============================================================================================
// 8. Wiring
// ============================================================================================

const PANELS = { "toggle-conversations": "conversations-panel", "toggle-tasks": "tasks-panel" };

/** Narrow screens: the side panels are drawers opened from the header. */
function togglePanel(toggleId) {
  const panel = $(PANELS[toggleId]);
  const opening = !panel.classList.contains("open");
  closePanels();
  if (!opening) return;
  panel.classList.add("open");
  $(toggleId).setAttribute("aria-expanded", "true");
  panel.querySelector("button, input")?.focus();
}

function closePanels({ returnFocus = false } = {}) {
  for (const [toggleId, panelId] of Object.entries(PANELS)) {
    const wasOpen = $(panelId).classList.contains("open");
    $(panelId).classList.remove("open");
    $(toggleId).setAttribute("aria-expanded", "false");
    if (wasOpen && returnFocus) $(toggleId).focus();
  }
}

/** Click a "Load more" button by itself when it scrolls into view (it stays clickable too). */
function loadWhenVisible(button, root) {
  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !button.hidden) button.click();
    },
    { root },
  );
  observer.observe(button);
  // An observer reports changes only. A page that did not push the button out of view (a short
  // page, a tall screen) is followed by another: observing afresh reports the button again.
  recheckLoadMore[button.id] = () => {
    observer.unobserve(button);
    observer.observe(button);
  };
}

// `recheckLoadMore[id]()`: after a page lands, load the next one too if its button is in view.
const recheckLoadMore = {};

function wire() {
  $("notice-close").addEventListener("click", hideNotice);

  $("dev-signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const userId = $("dev-user-id").value.trim();
    if (!userId) return;
    const button = event.target.querySelector("button");
    button.disabled = true;
    try {
      await signInWithUserId(userId);
    } catch (error) {
      showNotice(describeError(error));
    } finally {
      button.disabled = false;
    }
  });
  $("token-signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signInWithToken($("token-input").value.trim());
  });
  $("sign-out").addEventListener("click", () => signOut());

  $("new-chat").addEventListener("click", () => {
    newChat();
    closePanels();
    $("message-input").focus();
  });
  $("more-conversations").addEventListener("click", () => loadConversations());
  $("toggle-archived").addEventListener("click", () => showArchivedList(!state.showArchived));
  $("older-messages").addEventListener("click", () => loadOlderMessages());
  $("refresh-tasks").addEventListener("click", () => loadTasks());
  $("more-results").addEventListener("click", () => runSearch({ more: true }));
  loadWhenVisible($("more-conversations"), $("conversations-panel"));
  loadWhenVisible($("more-results"), $("conversations-panel"));
  loadWhenVisible($("older-messages"), $("messages"));

  // Search: as you type (after a pause), or at once with Enter. Down arrow goes to the results,
  // up and down move between them; Escape (in the box or the results) ends the search.
  const searchBox = $("search-input");
  searchBox.addEventListener("input", scheduleSearch);
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });
  searchBox.addEventListener("keydown", (event) => {
    const searching = searchBox.value !== "" || !$("search-view").hidden;
    if (event.key === "Escape" && searching) {
      event.preventDefault(); // our own clearing, not the browser's
      event.stopPropagation(); // a drawer stays open: Escape in an empty box closes it
      endSearch();
    } else if (event.key === "ArrowDown" && !$("search-view").hidden) {
      const first = $("search-results").querySelector("button");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  $("search-results").addEventListener("keydown", (event) => {
    const buttons = [...$("search-results").querySelectorAll("button")];
    const index = buttons.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.stopPropagation();
      endSearch({ focus: true });
    } else if (event.key === "ArrowDown" && index >= 0 && index + 1 < buttons.length) {
      event.preventDefault();
      buttons[index + 1].focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      (index === 0 ? searchBox : buttons[index - 1]).focus();
    }
  });

  // Enter sends; Shift+Enter is a new line; Enter while an input method composes is not a send.
  const input = $("message-input");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || $("send-button").disabled) return;
    input.value = "";
    sendMessage(text);
  });

  for (const toggleId of Object.keys(PANELS)) {
    $(toggleId).addEventListener("click", () => togglePanel(toggleId));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanels({ returnFocus: true });
  });

  // Never a silent, frozen page: anything unexpected is said in words.
  window.addEventListener("unhandledrejection", (event) => {
    console.error(event.reason);
    showNotice(describeError(event.reason));
  });
}

wire();
if (state.token && state.userId) {
  showApp();
} else {
  showSignIn();
}
