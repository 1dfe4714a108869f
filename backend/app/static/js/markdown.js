// Markdown in the assistant's replies, rendered safely.
//
// Two well-kept libraries, vendored with their licences and pinned versions (static/vendor/,
// see its README): marked turns Markdown into HTML, DOMPurify then keeps only an allow-list of
// tags and attributes. Three rules hold whatever a model (or a prompt injection) writes:
//   - no raw HTML: marked's `html` tokens are shown as the text they are, before DOMPurify runs;
//   - links only to http(s) and mailto (no `javascript:`, no `data:`), opening in a new tab
//     with rel="noopener noreferrer";
//   - the result is a DOM fragment built by DOMPurify; no string of ours is ever parsed as HTML.
// The strict CSP (no inline script) stays the last line of defence.

import DOMPurify from "../vendor/dompurify-3.4.18/purify.es.mjs";
import { Marked } from "../vendor/marked-18.2.1/marked.esm.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const markdown = new Marked({
  gfm: true,
  breaks: true, // a model's single line breaks are meant as line breaks
  renderer: {
    html: ({ text }) => escapeHtml(text), // `<b>hi</b>` in a reply is shown, not obeyed
  },
});

const ALLOWED_TAGS = [
  "p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
  "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
];
const PURIFY_OPTIONS = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: ["href", "title", "start", "align"],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

/** Markdown text → a sanitized DocumentFragment. */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(markdown.parse(text ?? ""), PURIFY_OPTIONS);
}
