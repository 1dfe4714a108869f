// The open conversation: its title, and its messages, newest page first, older pages loaded as
// the reader scrolls up.

import { ApiError, api, userPath } from "./api.js";
import { resumeStreamingTurn } from "./chat.js";
import { $ } from "./dom.js";
import { renderMessage, scrollMessagesToEnd } from "./messages.js";
import { reportError } from "./notice.js";
import { markSelected } from "./sidebar.js";
import { CONVERSATION_KEY, state } from "./state.js";

const MESSAGES_PAGE = 30;
const FIND_MESSAGE_PAGES = 5; // older pages loaded, at most, to show the message a result found

export function titleOf(conversation) {
  return conversation.title || "Untitled chat";
}

export function isArchived(conversation) {
  return conversation.archived === true;
}

/** The open conversation's title above its messages, with an "Archived" badge if it is. */
export function showChatTitle(conversation) {
  $("chat-title").textContent = conversation ? titleOf(conversation) : "New chat";
  $("chat-archived").hidden = !(conversation && isArchived(conversation));
}

/** Start a new chat: nothing is created until its first message is sent. */
export function newChat() {
  state.view += 1;
  state.conversationId = null;
  state.messagesCursor = null;
  sessionStorage.removeItem(CONVERSATION_KEY);
  showChatTitle(null);
  $("message-list").replaceChildren();
  $("older-messages").hidden = true;
  $("chat-empty").hidden = false;
  scrollMessagesToEnd(); // (and nothing older to jump back from)
  markSelected();
}

/** Remember the open conversation (it is reopened after a reload). */
export function openedConversation(id) {
  state.conversationId = id;
  sessionStorage.setItem(CONVERSATION_KEY, String(id));
  markSelected();
}

/** Open a conversation; `highlight`: ids of messages a search found in it, best first. */
export async function openConversation(id, { highlight = [] } = {}) {
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
    if (view !== state.view) return;
    // A reply that was streaming into this conversation (before a reload, say) carries on.
    resumeStreamingTurn(view);
    await highlightMessages(view, highlight);
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
export function loadOlderMessages() {
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
