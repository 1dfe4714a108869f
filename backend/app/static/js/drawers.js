// Narrow screens: the two side panels are drawers, opened from the header, over a backdrop;
// each has a close button, and Escape or a tap on the backdrop closes it too.

import { $ } from "./dom.js";

export const PANELS = { "toggle-conversations": "conversations-panel", "toggle-tasks": "tasks-panel" };

export function togglePanel(toggleId) {
  const panel = $(PANELS[toggleId]);
  const opening = !panel.classList.contains("open");
  closePanels();
  if (!opening) return;
  panel.classList.add("open");
  $("backdrop").hidden = false;
  $(toggleId).setAttribute("aria-expanded", "true");
  panel.querySelector("button:not(.drawer-close), input")?.focus();
}

export function closePanels({ returnFocus = false } = {}) {
  for (const [toggleId, panelId] of Object.entries(PANELS)) {
    const wasOpen = $(panelId).classList.contains("open");
    $(panelId).classList.remove("open");
    $(toggleId).setAttribute("aria-expanded", "false");
    if (wasOpen && returnFocus) $(toggleId).focus();
  }
  $("backdrop").hidden = true;
}

export function wireDrawers() {
  for (const toggleId of Object.keys(PANELS)) {
    $(toggleId).addEventListener("click", () => togglePanel(toggleId));
  }
  for (const button of document.querySelectorAll(".drawer-close")) {
    button.addEventListener("click", () => closePanels({ returnFocus: true }));
  }
  $("backdrop").addEventListener("click", () => closePanels({ returnFocus: true }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanels({ returnFocus: true });
  });
}
