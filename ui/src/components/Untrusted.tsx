import { Children, type ReactNode } from "react";
import { showUntrusted } from "../lib/bidi";

/** Shows text that came from the server or from other people (a name, a
 * tag, a message) inside the UI's own words: isolated, so its direction
 * cannot reorder the sentence around it, with bidirectional controls shown
 * as visible escapes. */
export function Untrusted({ text, className, title }: { text: string; className?: string; title?: string }) {
  return (
    <bdi className={className} title={title === undefined ? undefined : showUntrusted(title)}>
      {showUntrusted(text)}
    </bdi>
  );
}

/** Returns children with bidirectional controls in their text made
 * visible; elements are kept as they are (they render their own text). */
export function untrustedChildren(children: ReactNode): ReactNode {
  return Children.map(children, (c) => (typeof c === "string" ? showUntrusted(c) : c));
}
