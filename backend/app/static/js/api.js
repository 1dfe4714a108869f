// Talking to the Todo Chat API (see API.md): one `api()` helper, its errors, what they mean in
// words, and what this server offers.

import { state } from "./state.js";

/** An HTTP failure: `status` 0 means the server could not be reached at all. */
export class ApiError extends Error {
  constructor(status, detail, { retryAfter = null, stored = false, lost = false } = {}) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.lost = lost; // the connection dropped mid-answer: the message may or may not be saved
    this.retryAfter = retryAfter; // seconds, from the Retry-After header of a 429
    this.stored = stored; // the chat turn failed after the user's message was saved
  }
}

/** `/api/{user_id}` + suffix. The user id is the token's `sub`; it must match or the API says 403. */
export function userPath(suffix) {
  return `/api/${encodeURIComponent(state.userId)}${suffix}`;
}

/** The headers every `/api/{user_id}/...` request needs. */
export function authHeaders() {
  return { Authorization: `Bearer ${state.token}` };
}

/** `fetch()`, with "could not connect" turned into an ApiError(0). */
export async function request(path, init) {
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, "The server could not be reached.");
  }
}

/**
 * Call the JSON API: `api("GET", userPath("/tasks"))`, `api("PATCH", path, { title })`.
 * Resolves to the parsed JSON body (null for a 204), rejects with an ApiError.
 */
export async function api(method, path, body) {
  const headers = { ...authHeaders(), Accept: "application/json" };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await request(path, init);
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? null : response.json();
}

/** Turn an error response into an ApiError. Errors look like `{"detail": "..."}` (FastAPI). */
export async function errorFrom(response) {
  let detail = "";
  let stored = false;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") {
      detail = body.detail;
    } else if (Array.isArray(body.detail) && body.detail.length > 0) {
      // A 422 from request validation: a list of {loc, msg, type}; the first says enough.
      detail = String(body.detail[0].msg ?? "");
    }
    // A failed chat turn (502/504) names the conversation its saved message went into.
    stored = body.conversation_id !== undefined;
  } catch {
    // Not JSON (a proxy's HTML error page, say): the status alone has to do.
  }
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new ApiError(response.status, detail, {
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
    stored,
  });
}

/** What went wrong, in words a person can act on. */
export function describeError(error) {
  if (!(error instanceof ApiError)) {
    return "Something went wrong in this page. Reload it to continue.";
  }
  const said = error.detail ? ` (The server said: ${error.detail})` : "";
  switch (error.status) {
    case 0:
      return error.lost
        ? "The connection was lost before the answer was complete. Reload the page to see what was saved."
        : "The server could not be reached. Check your connection and try again.";
    case 401:
    case 403:
      return "Your session has ended. Please sign in again.";
    case 404:
      return "That was not found: it may have been deleted in another tab.";
    case 413:
      return "That is too large for the server.";
    case 422:
      return `The server did not accept that.${said}`;
    case 429:
      return `Too many messages. Please wait ${error.retryAfter ?? 60} seconds, then try again.`;
    // For these two the server's own words are shown apart, as details (see AssistantReply.fail).
    case 502:
      return "The model failed to answer. Your message is saved; send another message to try again.";
    case 504:
      return "The model took too long to answer. Your message is saved; send another message to try again.";
    default:
      return `The server had a problem (HTTP ${error.status}). Please try again.${said}`;
  }
}

/**
 * What this server offers, read once from its OpenAPI schema (`GET /openapi.json`, always 200),
 * so that the page never probes with a request that fails (a red line in the console) and shows
 * newer features only where the server has them:
 *
 *   devToken  `POST /api/auth/dev-token` exists (development sign-in)
 *   usage     `GET /api/{user_id}/usage` exists (today's token usage)
 *
 * Task fields (due dates, priorities, tags) need no probe: they are shown when a task has them.
 */
export async function serverFeatures() {
  if (state.features) return state.features;
  const response = await request("/openapi.json", { headers: { Accept: "application/json" } });
  // A server that hides its schema offers only what every server has: token sign-in, no extras.
  const paths = response.ok ? ((await response.json()).paths ?? {}) : {};
  state.features = {
    devToken: "/api/auth/dev-token" in paths,
    usage: "/api/{user_id}/usage" in paths,
  };
  return state.features;
}
