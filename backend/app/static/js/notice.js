// Problems said in words: the notice under the header (role="alert").

import { ApiError, describeError } from "./api.js";
import { $ } from "./dom.js";
import { signOut } from "./signin.js";

export function showNotice(text, kind = "error") {
  $("notice-text").textContent = text;
  $("notice").classList.toggle("info", kind === "info");
  $("notice").hidden = false;
}

export function hideNotice() {
  $("notice").hidden = true;
  $("notice-text").textContent = "";
}

/**
 * Show an error in the page. A 401/403 means the token is no longer good: back to sign-in.
 * Returns true when it signed the user out.
 */
export function reportError(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signOut(describeError(error));
    return true;
  }
  showNotice(describeError(error));
  return false;
}
