// Signing in: a user id in development (`POST /api/auth/dev-token`), a pasted bearer token in
// production. And signing out, and showing the app once signed in.

import { ApiError, errorFrom, request, serverFeatures } from "./api.js";
import { updateComposer } from "./chat.js";
import { newChat, openConversation } from "./conversation.js";
import { $ } from "./dom.js";
import { closePanels } from "./drawers.js";
import { hideNotice, showNotice } from "./notice.js";
import { endSearch } from "./search.js";
import { loadConversations, showArchivedList } from "./sidebar.js";
import { CONVERSATION_KEY, TOKEN_KEY, TURN_KEY, USER_KEY, rememberedTurn, state } from "./state.js";
import { loadTasks } from "./tasks.js";
import { loadUsage } from "./usage.js";

const SIGNED_IN_CONTROLS = ["sign-out", "signed-in-as", "toggle-conversations", "toggle-tasks"];

export async function showSignIn(message) {
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  for (const id of SIGNED_IN_CONTROLS) $(id).hidden = true;
  if (message) showNotice(message);
  else hideNotice();
  $("signin-checking").hidden = false;
  $("dev-signin-form").hidden = true;
  $("token-signin-form").hidden = true;
  let development;
  try {
    // Development servers have `POST /api/auth/dev-token`; production ones do not.
    development = (await serverFeatures()).devToken;
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
export async function signInWithUserId(userId) {
  const response = await request("/api/auth/dev-token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: userId }),
  });
  if (!response.ok) throw await errorFrom(response);
  const { access_token: token } = await response.json();
  signedIn(token, userId);
}

/** Production: the token comes from the auth server; its `sub` claim is the user id. */
export function signInWithToken(token) {
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

export function signOut(message) {
  if (state.token === null) {
    // Already signed out (several requests can fail with 401 at once): just say why.
    if (message) showNotice(message);
    return;
  }
  for (const key of [TOKEN_KEY, USER_KEY, CONVERSATION_KEY, TURN_KEY]) {
    sessionStorage.removeItem(key);
  }
  state.token = null;
  state.userId = null;
  state.conversationId = null;
  state.turn = null;
  state.view += 1;
  endSearch();
  showArchivedList(false, { load: false });
  $("conversation-list").replaceChildren();
  $("message-list").replaceChildren();
  $("task-list").replaceChildren();
  $("usage").hidden = true;
  updateComposer();
  showSignIn(message);
}

export async function showApp() {
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  for (const id of SIGNED_IN_CONTROLS) $(id).hidden = false;
  $("signed-in-as").textContent = `Signed in as ${state.userId}`;
  closePanels();
  updateComposer();
  $("message-input").focus(); // ready to type at once
  // A reply that was streaming when the page was reloaded: its conversation is the one to open.
  const streaming = rememberedTurn();
  const remembered = streaming?.conversationId
    ?? Number.parseInt(sessionStorage.getItem(CONVERSATION_KEY) ?? "", 10);
  if (Number.isInteger(remembered)) {
    openConversation(remembered); // and resumes the reply, see resumeStreamingTurn
  } else {
    newChat();
  }
  loadConversations({ reset: true });
  loadTasks();
  serverFeatures().then(loadUsage, () => {});
}
