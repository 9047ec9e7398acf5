import { useCallback, useLayoutEffect, useRef } from "react";

/** Names the element that should take focus, looked up when it is needed;
 * undefined or null when there is none. */
export type FocusTarget = () => HTMLElement | null | undefined;

/** Returns a ref callback for an element that may leave the page while it
 * has focus, such as an action button the page no longer offers once its
 * action took effect (Revoke on a revoked key, Cancel on a cancelled run).
 * Browsers then drop focus to the page's body, so a keyboard user starts
 * over from the top. When the element is removed while it, or an element in
 * it, has focus, and focus has fallen to the body once React finished
 * rendering, focus moves to what target returns: the element that replaced
 * it, or a stable heading or message with tabIndex -1. Focus that went
 * elsewhere on purpose is left alone. The ref may be given to several
 * elements. */
export function useRefocusOnRemoval<T extends HTMLElement = HTMLElement>(target: FocusTarget | undefined): (el: T | null) => (() => void) | undefined {
  const latest = useRef(target);
  useLayoutEffect(() => {
    latest.current = target;
  });
  return useCallback((el: T | null) => {
    if (el === null) return undefined;
    // React 19 calls this cleanup when the element leaves, before it is
    // taken out of the document: it still knows whether it held focus.
    return () => {
      if (!el.contains(document.activeElement)) return;
      // The elements that replace it are in place once the render that
      // removes it has finished, which is before the next microtask.
      queueMicrotask(() => {
        if (el.isConnected || !focusLost()) return;
        latest.current?.()?.focus();
      });
    };
  }, []);
}

/** Reports whether nothing but the page itself has focus. */
function focusLost(): boolean {
  const a = document.activeElement;
  return a === null || a === document.body || a === document.documentElement;
}

/** Returns the first of the elements that is on the page, for a FocusTarget
 * that prefers one element and falls back to another. */
export function firstPresent(...els: (HTMLElement | null | undefined)[]): HTMLElement | undefined {
  return els.find((e): e is HTMLElement => e != null && e.isConnected);
}
