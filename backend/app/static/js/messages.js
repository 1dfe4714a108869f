// Rendering messages: a user's words as plain text, the assistant's as sanitized Markdown with
// its tool calls as sentences, and the reply that is streaming in. Also the scrolling of the
// message list, which follows new text only while the reader is at the bottom.

import { $, el, scrollBehavior } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { renderToolCall } from "./toolcalls.js";
import { formatFull, formatWhen } from "./when.js";

const NEAR_BOTTOM_PX = 80;

// Whether new text scrolls the list: true while the reader is at the newest message, false
// once they scroll up to read older ones (until they come back down, or send a message).
let pinned = true;
let lastScrollTop = 0;

/** Is the reader at (or near) the newest message? */
export function isNearBottom() {
  const box = $("messages");
  return box.scrollHeight - box.scrollTop - box.clientHeight <= NEAR_BOTTOM_PX;
}

/** Scrolling up unpins the list; coming back to the bottom pins it again. Our own scrolling
 * only ever goes down, so it never unpins, even while a smooth scroll is under way. */
export function watchScrolling() {
  const box = $("messages");
  box.addEventListener(
    "scroll",
    () => {
      if (isNearBottom()) pinned = true;
      else if (box.scrollTop < lastScrollTop - 1) pinned = false;
      lastScrollTop = box.scrollTop;
      $("jump-latest").hidden = pinned;
    },
    { passive: true },
  );
  $("jump-latest").addEventListener("click", () => {
    scrollMessagesToEnd({ smooth: true });
    $("message-input").focus();
  });
}

/** Scroll to the newest message (and follow new text from now on). */
export function scrollMessagesToEnd({ smooth = false } = {}) {
  pinned = true;
  $("jump-latest").hidden = true;
  const box = $("messages");
  box.scrollTo({ top: box.scrollHeight, behavior: smooth ? scrollBehavior() : "auto" });
}

/** Run `change` (which adds to the list) and follow it only if the reader is at the bottom. */
export function followingNewest(change, { smooth = true } = {}) {
  const follow = pinned || isNearBottom();
  change();
  if (follow) scrollMessagesToEnd({ smooth });
}

/** A message `{id, role, content, tool_calls, created_at, stopped}` → a list item. */
export function renderMessage(message) {
  const item = el("li", { className: `message ${message.role}` });
  if (message.id !== undefined) item.dataset.messageId = String(message.id); // for search results
  if (message.turn_id) item.dataset.turnId = message.turn_id;
  const who = el("div", {
    className: "message-role",
    text: message.role === "user" ? "You" : "Assistant",
  });
  if (message.created_at) {
    const date = new Date(message.created_at);
    who.append(" · ", el("time", { dateTime: message.created_at, text: formatWhen(date), title: formatFull(date) }));
  }
  item.append(who);
  const calls = message.tool_calls ?? [];
  if (calls.length) item.append(el("div", { className: "tool-calls" }, ...calls.map(renderToolCall)));
  const text = el("div", { className: "message-text" });
  if (message.role === "assistant") {
    text.classList.add("markdown");
    text.append(renderMarkdown(message.content));
  } else {
    text.textContent = message.content;
  }
  item.append(text);
  if (message.stopped) markStopped(item);
  return item;
}

function markStopped(item) {
  item.classList.add("stopped");
  if (!item.querySelector(".message-note")) {
    item.append(el("p", { className: "message-note", text: "Stopped" }));
  }
}

/**
 * The assistant's bubble while its answer streams in: tool calls first, then the text, whose
 * Markdown is rendered again (at most once a frame) as pieces arrive.
 */
export class AssistantReply {
  constructor() {
    this.element = renderMessage({
      role: "assistant",
      content: "",
      created_at: new Date().toISOString(),
    });
    this.text = this.element.querySelector(".message-text");
    this.content = "";
    this.frame = 0;
    this.text.classList.add("typing");
    this.element.setAttribute("aria-busy", "true");
  }

  addToolCall(call) {
    let list = this.element.querySelector(".tool-calls");
    if (!list) {
      list = el("div", { className: "tool-calls" });
      this.text.before(list);
    }
    list.append(renderToolCall(call));
  }

  appendText(piece) {
    this.content += piece;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    followingNewest(() => this.text.replaceChildren(renderMarkdown(this.content)));
  }

  /** The `done` event: `{response, message_id, turn_id, stopped}`. */
  finish({ response, message_id: messageId, turn_id: turnId, stopped = false }) {
    // The deltas concatenate to the response; setting it once more guards against a lost piece.
    this.content = response ?? this.content;
    this.render();
    if (messageId !== undefined) this.element.dataset.messageId = String(messageId);
    if (turnId) this.element.dataset.turnId = turnId;
    if (stopped) markStopped(this.element);
    this.settle();
  }

  fail(words, details = "") {
    this.settle();
    this.element.classList.add("failed");
    if (this.content === "") this.text.remove();
    this.element.append(el("p", { className: "message-error", text: words }));
    if (details && !words.includes(details)) {
      // The server's own words, for whoever wants them: said once, behind a disclosure.
      this.element.append(
        el(
          "details",
          { className: "message-details" },
          el("summary", { text: "Details" }),
          el("p", { text: details }),
        ),
      );
    }
  }

  settle() {
    this.text.classList.remove("typing");
    this.element.removeAttribute("aria-busy");
  }
}
