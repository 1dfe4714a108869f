// Todo Chat — the built-in chat page.
//
// Plain JavaScript modules, no framework and no build step; meant to be read as an example of
// a client of the Todo Chat API (see API.md). This file wires the page together; each concern
// has a module of its own under js/:
//
//   api.js           talking to the API: `api()`, its errors in words, what the server offers
//   sse.js           reading Server-Sent Events from a fetch() body
//   chat.js          a chat turn: send, stream, stop, resume after a reload or a dropped line
//   messages.js      rendering messages (Markdown via markdown.js, tool calls via toolcalls.js)
//   conversation.js  the open conversation and its pages of messages
//   sidebar.js       the list of conversations and each one's menu; search.js: searching them
//   tasks.js         the task list; usage.js: today's token usage
//   signin.js        signing in and out; drawers.js: the side panels on a phone
//
// One rule holds everywhere: text from the server (titles, messages, tool arguments, error
// details) goes into the page as text, never as HTML. The one exception is the assistant's
// Markdown, which goes through a parser and a sanitizer (markdown.js).

import { describeError } from "./js/api.js";
import { sendMessage, stopTurn } from "./js/chat.js";
import { loadOlderMessages, newChat } from "./js/conversation.js";
import { $ } from "./js/dom.js";
import { closePanels, wireDrawers } from "./js/drawers.js";
import { watchScrolling } from "./js/messages.js";
import { hideNotice, showNotice } from "./js/notice.js";
import { endSearch, runSearch, scheduleSearch } from "./js/search.js";
import {
  closeMenuOnOutsideClick,
  loadConversations,
  recheckLoadMore,
  showArchivedList,
} from "./js/sidebar.js";
import { showApp, showSignIn, signInWithToken, signInWithUserId, signOut } from "./js/signin.js";
import { state } from "./js/state.js";
import { wireTaskControls } from "./js/tasks.js";

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

function wireSignIn() {
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
}

function wireSidebar() {
  $("new-chat").addEventListener("click", () => {
    newChat();
    closePanels();
    $("message-input").focus();
  });
  $("more-conversations").addEventListener("click", () => loadConversations());
  $("toggle-archived").addEventListener("click", () => showArchivedList(!state.showArchived));
  $("more-results").addEventListener("click", () => runSearch({ more: true }));
  loadWhenVisible($("more-conversations"), $("conversations-panel"));
  loadWhenVisible($("more-results"), $("conversations-panel"));
  document.addEventListener("click", closeMenuOnOutsideClick);

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
}

function wireComposer() {
  // Enter sends; Shift+Enter is a new line; Enter while an input method composes is not a send.
  const input = $("message-input");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  // The box grows with its text (up to a limit set in the CSS), and says how much room is left
  // once the text nears the API's limit (the box's maxlength).
  const fitText = () => {
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight}px`;
    const left = input.maxLength - input.value.length;
    $("composer-count").textContent =
      left <= input.maxLength / 10 ? `${left.toLocaleString()} characters left.` : "";
  };
  input.addEventListener("input", fitText);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || state.turn || $("send-button").disabled) return;
    input.value = "";
    fitText();
    sendMessage(text);
  });
  $("stop-button").addEventListener("click", () => stopTurn());
  $("older-messages").addEventListener("click", () => loadOlderMessages());
  loadWhenVisible($("older-messages"), $("messages"));
  watchScrolling();
}

function wire() {
  $("notice-close").addEventListener("click", hideNotice);
  wireSignIn();
  wireSidebar();
  wireComposer();
  wireTaskControls();
  wireDrawers();
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
