// The browser keeps one credential besides the HttpOnly session cookie the
// server sets at sign-in: an API key a person chose to sign in with. It
// lives in sessionStorage, so it ends with the tab and is never written to
// disk by the UI.

const apiKeyItem = "ferry.apiKey";

/** Returns the API key this tab signed in with, or "" when it uses the session cookie. */
export function storedApiKey(): string {
  try {
    return sessionStorage.getItem(apiKeyItem) ?? "";
  } catch {
    return "";
  }
}

/** Keeps key for this tab only; "" forgets it. */
export function storeApiKey(key: string): void {
  try {
    if (key === "") sessionStorage.removeItem(apiKeyItem);
    else sessionStorage.setItem(apiKeyItem, key);
  } catch {
    // Storage can be disabled; the key then lasts until the page reloads.
  }
}
