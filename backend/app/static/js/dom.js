// Small DOM helpers shared by every module. Text from the server only ever goes into the page
// through `textContent` / text nodes (see `el`), never as HTML; Markdown has its own, sanitized
// path (markdown.js).

export const $ = (id) => document.getElementById(id);

/**
 * `el("span", { className: "badge", text: "High" }, child, …)`: an element with text and
 * attributes set as properties or attributes, never parsed as HTML.
 */
export function el(tag, { className, text, attrs = {}, ...props } = {}, ...children) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  Object.assign(element, props);
  element.append(...children);
  return element;
}

export function plural(count, one, many) {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

const REDUCED_MOTION = window.matchMedia("(prefers-reduced-motion: reduce)");

/** "smooth" unless the person asked their system for less motion. */
export function scrollBehavior() {
  return REDUCED_MOTION.matches ? "auto" : "smooth";
}
