// Searching the history: `GET /api/{user_id}/search`, one result per conversation, snippets
// with their marked words.

import { ApiError, api, describeError, userPath } from "./api.js";
import { openConversation, titleOf } from "./conversation.js";
import { $, plural } from "./dom.js";
import { closePanels } from "./drawers.js";
import { reportError } from "./notice.js";
import { recheckLoadMore } from "./sidebar.js";
import { state } from "./state.js";
import { formatWhen } from "./when.js";

const SEARCH_PAGE = 20;
const SEARCH_DELAY_MS = 250; // search once typing pauses this long (Enter searches at once)

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
export async function runSearch({ more = false } = {}) {
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
export function scheduleSearch() {
  clearTimeout(state.searchTimer);
  if ($("search-input").value.trim() === "") {
    endSearch();
    return;
  }
  state.searchTimer = setTimeout(() => runSearch(), SEARCH_DELAY_MS);
}

/** Back to the conversation list: the box is emptied and an answer still on its way dropped. */
export function endSearch({ focus = false } = {}) {
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
  time.textContent = formatWhen(new Date(shown.created_at));
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
