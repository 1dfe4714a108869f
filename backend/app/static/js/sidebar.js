// The sidebar of conversations: paged with `next_cursor`, one menu of actions per row (rename,
// archive or unarchive, download, delete), and the archived list.

import { ApiError, api, authHeaders, errorFrom, request, userPath } from "./api.js";
import { isArchived, newChat, openConversation, showChatTitle, titleOf } from "./conversation.js";
import { $, el } from "./dom.js";
import { closePanels } from "./drawers.js";
import { reportError } from "./notice.js";
import { state } from "./state.js";

const CONVERSATIONS_PAGE = 20;

/**
 * `GET /api/{user_id}/conversations?limit=&cursor=&archived=` → `{data, has_more, next_cursor}`,
 * the most recently updated first. Pass `next_cursor` back as `cursor` for the next page.
 * `archived=false` (the default) lists the conversations in use, `archived=true` the archived
 * ones (`all`: both).
 */
export async function loadConversations({ reset = false } = {}) {
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

// `recheckLoadMore[id]()`: after a page lands, load the next one too if its button is in view
// (filled in by app.js, see loadWhenVisible).
export const recheckLoadMore = {};

/**
 * Re-read one conversation and put it at the top of the sidebar (it was just updated).
 * Chatting in an archived conversation un-archives it on the server: its `archived` says which
 * list it now belongs to, and it leaves the archived list if that is the one shown.
 */
export async function refreshConversation(id) {
  const walk = state.conversationsWalk;
  try {
    const conversation = await api("GET", userPath(`/conversations/${id}`));
    if (id === state.conversationId) showChatTitle(conversation);
    if (walk !== state.conversationsWalk) return; // the list was reloaded meanwhile
    const list = $("conversation-list");
    const shown = list.querySelector(`li[data-id="${id}"]`);
    if (shown?.querySelector(".rename-form")) return; // being renamed: leave it be
    // Its "⋯" menu is open: replacing the row would take the menu from under the pointer.
    // The row is at most a title behind; the next refresh or reload brings it up to date.
    if (shown && openedMenu && shown.contains(openedMenu)) return;
    shown?.remove();
    if (isArchived(conversation) === state.showArchived) {
      list.prepend(renderConversation(conversation));
    }
    updateConversationsEmpty();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) reportError(error);
  }
}

function updateConversationsEmpty() {
  $("conversations-empty").hidden = $("conversation-list").children.length > 0;
}

/** One sidebar row: the title (a button that opens it, the whole width), then a "⋯" menu. */
function renderConversation(conversation) {
  const title = titleOf(conversation);
  const item = el("li", { attrs: { "data-id": String(conversation.id) } });
  item.classList.toggle("selected", conversation.id === state.conversationId);

  const open = el("button", { type: "button", className: "conversation-open", text: title, title });
  if (conversation.id === state.conversationId) open.setAttribute("aria-current", "true");
  open.addEventListener("click", () => {
    openConversation(conversation.id);
    closePanels();
    $("message-input").focus();
  });

  const archived = isArchived(conversation);
  const actions = [
    [`Rename “${title}”`, "Rename", () => startRename(item, conversation)],
    archived
      ? [`Unarchive “${title}”`, "Unarchive", () => setArchived(item, conversation, false)]
      : [`Archive “${title}”`, "Archive", () => setArchived(item, conversation, true)],
    [`Download as Markdown “${title}”`, "Download as Markdown", () => download(conversation)],
    [`Delete “${title}”`, "Delete", () => deleteConversation(conversation), "danger"],
  ];
  item.append(open, ...rowMenu(`Actions for “${title}”`, actions));
  return item;
}

/**
 * A "⋯" button and the menu it opens (the ARIA menu button pattern): arrows move between the
 * items, Escape or a click elsewhere closes it and gives the focus back to the button.
 */
function rowMenu(label, actions) {
  const button = el("button", {
    type: "button",
    className: "icon-button row-menu-button",
    text: "⋯",
    title: label,
    attrs: { "aria-label": label, "aria-haspopup": "menu", "aria-expanded": "false" },
  });
  const menu = el("div", { className: "row-menu", attrs: { role: "menu", "aria-label": label } });
  menu.hidden = true;
  for (const [name, text, run, kind] of actions) {
    const item = el("button", {
      type: "button",
      className: `menu-item${kind ? ` ${kind}` : ""}`,
      text,
      attrs: { role: "menuitem", "aria-label": name, tabindex: "-1" },
    });
    item.addEventListener("click", () => {
      closeMenu(menu, { returnFocus: false });
      run();
    });
    menu.append(item);
  }
  const items = () => [...menu.querySelectorAll("[role=menuitem]")];
  button.addEventListener("click", () => {
    if (menu.hidden) openMenu(button, menu);
    else closeMenu(menu);
  });
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && menu.hidden) {
      event.preventDefault();
      openMenu(button, menu);
    }
  });
  menu.addEventListener("keydown", (event) => {
    const list = items();
    const index = list.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.stopPropagation(); // a drawer stays open
      closeMenu(menu);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      list[(index + step + list.length) % list.length].focus();
    } else if (event.key === "Tab") {
      closeMenu(menu, { returnFocus: false });
    }
  });
  return [button, menu];
}

let openedMenu = null;

function openMenu(button, menu) {
  if (openedMenu) closeMenu(openedMenu, { returnFocus: false });
  menu.hidden = false;
  button.setAttribute("aria-expanded", "true");
  openedMenu = menu;
  menu.querySelector("[role=menuitem]").focus();
}

function closeMenu(menu, { returnFocus = true } = {}) {
  menu.hidden = true;
  const button = menu.previousElementSibling;
  button?.setAttribute("aria-expanded", "false");
  if (openedMenu === menu) openedMenu = null;
  if (returnFocus) button?.focus();
}

/** A click anywhere but in the open menu (or its button) closes it. */
export function closeMenuOnOutsideClick(event) {
  if (!openedMenu) return;
  const button = openedMenu.previousElementSibling;
  if (openedMenu.contains(event.target) || button?.contains(event.target)) return;
  closeMenu(openedMenu, { returnFocus: false });
}

/** Rename in place: a small form replaces the row; Enter saves, Escape cancels. */
function startRename(item, conversation) {
  const input = el("input", {
    value: conversation.title ?? "",
    maxLength: 200,
    required: true,
    attrs: { "aria-label": "New title" },
  });
  const save = el("button", { type: "submit", className: "small", text: "Save" });
  const form = el("form", { className: "rename-form" }, input, save);

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

/**
 * Download the whole conversation: `GET .../conversations/{id}/export?format=markdown` (the
 * server names the file in Content-Disposition). The request needs the bearer token, so it is
 * fetched here and handed to the browser as a file.
 */
async function download(conversation) {
  try {
    const path = userPath(`/conversations/${conversation.id}/export?format=markdown`);
    const response = await request(path, { headers: authHeaders() });
    if (!response.ok) throw await errorFrom(response);
    const disposition = response.headers.get("Content-Disposition") ?? "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `conversation-${conversation.id}.md`;
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    reportError(error);
  }
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
    (next?.querySelector(".conversation-open") ?? $("toggle-archived")).focus();
    if (updated.id === state.conversationId) showChatTitle(updated);
    $("sidebar-status").textContent = archived
      ? `Archived “${titleOf(updated)}”. It is under “Show archived”.`
      : `“${titleOf(updated)}” is back in your chats.`;
  } catch (error) {
    for (const button of buttons) button.disabled = false;
    item.querySelector("button").focus();
    if (!reportError(error) && error instanceof ApiError && error.status === 404) {
      item.remove(); // deleted in another tab
      updateConversationsEmpty();
    }
  }
}

/** Switch the sidebar between the conversations in use and the archived ones. */
export function showArchivedList(show, { load = true } = {}) {
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

export function markSelected() {
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
