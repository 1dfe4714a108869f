// Today's token usage, where the server counts it (`GET /api/{user_id}/usage`) and a model
// reported some: the built-in agent uses none, and a server without the route shows nothing.

import { api, userPath } from "./api.js";
import { $, plural } from "./dom.js";
import { state } from "./state.js";

export async function loadUsage() {
  if (!state.features?.usage || !state.userId) return;
  const today = new Date().toISOString().slice(0, 10); // the server counts days in UTC
  try {
    const usage = await api("GET", userPath(`/usage?${new URLSearchParams({ from: today, to: today })}`));
    const total = usage?.total ?? {};
    const tokens = Number(total.total_tokens ?? 0);
    $("usage").hidden = !(tokens > 0);
    $("usage").textContent = `Today: ${plural(tokens, "token", "tokens")}`;
    $("usage").title =
      `${plural(Number(total.turns ?? 0), "turn", "turns")} today (UTC): ` +
      `${Number(total.prompt_tokens ?? 0).toLocaleString()} prompt + ` +
      `${Number(total.completion_tokens ?? 0).toLocaleString()} completion tokens`;
  } catch {
    $("usage").hidden = true; // a nicety: never an error of its own
  }
}
