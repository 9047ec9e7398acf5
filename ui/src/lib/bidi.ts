// Text from the server or from other people (names, parameters, log lines,
// error messages that echo input) may carry Unicode bidirectional controls.
// Rendered as they are, an override such as U+202E reverses the text after
// it, including the UI's own words around it, so a name can pose as another
// or a message can say the opposite. The UI shows such text through
// showUntrusted: every control becomes a visible escape, and the places
// that put untrusted text inside a sentence also isolate it (<bdi>).

/** Matches one bidirectional formatting character: the embeddings and
 * overrides U+202A–U+202E, the isolates U+2066–U+2069, the marks
 * U+200E/U+200F and the Arabic letter mark U+061C. */
const bidiControl = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Reports whether text holds a bidirectional formatting character. */
export function hasBidiControls(text: string): boolean {
  bidiControl.lastIndex = 0;
  const found = bidiControl.test(text);
  bidiControl.lastIndex = 0;
  return found;
}

/** Returns text with each bidirectional formatting character replaced by a
 * visible escape such as "⟨U+202E⟩", so it can no longer reorder what is
 * shown around it. Other text is unchanged. */
export function showUntrusted(text: string): string {
  return text.replace(bidiControl, (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}⟩`);
}
