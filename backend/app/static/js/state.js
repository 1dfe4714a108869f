// All of the page's mutable state, in one place, and where the session is kept.
//
// sessionStorage is per browser tab and is forgotten when the tab closes, which suits a bearer
// token better than localStorage; it also survives a reload, which is what resuming a reply needs.

export const TOKEN_KEY = "todoChat.token";
export const USER_KEY = "todoChat.userId";
export const CONVERSATION_KEY = "todoChat.conversationId";
// The reply that is streaming: {turnId, conversationId}. Kept until its `done` (or `error`)
// arrives, so a reload or a dropped connection follows the same turn instead of losing it.
export const TURN_KEY = "todoChat.turn";
export const TASK_VIEW_KEY = "todoChat.taskView";

export const state = {
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
  turn: null, // the reply streaming now: {turnId, conversationId, stopping}
  cooldownUntil: 0, // after a 429: no sending before this time (ms since the epoch)
  features: null, // what this server offers, read from its OpenAPI schema (see api.js)
};

/** The streaming turn remembered across a reload, or null. */
export function rememberedTurn() {
  try {
    const turn = JSON.parse(sessionStorage.getItem(TURN_KEY) ?? "null");
    return turn && typeof turn.turnId === "string" ? turn : null;
  } catch {
    return null;
  }
}

export function rememberTurn(turn) {
  if (turn) sessionStorage.setItem(TURN_KEY, JSON.stringify(turn));
  else sessionStorage.removeItem(TURN_KEY);
}
