import { afterEach, describe, expect, it } from "vitest";
import { act, cleanup, render, screen } from "@testing-library/react";
import { useRef, useState } from "react";
import { firstPresent, useRefocusOnRemoval } from "./focus";

/** A page with an action button that leaves once pressed, replaced by
 * Undo; where focus goes then is chosen by target. autoFocusInput puts
 * focus on a new field in the same render, as a page might on purpose. */
function Page({ target, autoFocusInput = false }: { target: "replacement" | "heading" | "none"; autoFocusInput?: boolean }) {
  const [done, setDone] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const undo = useRef<HTMLButtonElement>(null);
  const refocus = useRefocusOnRemoval<HTMLButtonElement>(
    target === "none" ? undefined : () => (target === "replacement" ? firstPresent(undo.current, heading.current) : heading.current),
  );
  return (
    <>
      <h2 ref={heading} tabIndex={-1}>
        Things
      </h2>
      {done ? (
        <button key="undo" type="button" ref={undo}>
          Undo
        </button>
      ) : (
        // Keyed: without keys React would reuse the element, and focus with it.
        <button key="act" type="button" ref={refocus} onClick={() => setDone(true)}>
          Act
        </button>
      )}
      {done && autoFocusInput && <input aria-label="Note" autoFocus />}
      <button type="button">Elsewhere</button>
    </>
  );
}

/** Presses Act with focus on it, as a keyboard user would, and lets the microtasks run. */
async function pressAct() {
  const act1 = screen.getByRole("button", { name: "Act" });
  act1.focus();
  expect(document.activeElement).toBe(act1);
  await act(async () => act1.click());
}

describe("useRefocusOnRemoval", () => {
  afterEach(cleanup);

  it("moves focus to the element that replaced the removed one", async () => {
    render(<Page target="replacement" />);
    await pressAct();
    expect(screen.queryByRole("button", { name: "Act" })).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Undo" }));
  });

  it("moves focus to a heading with tabIndex -1", async () => {
    render(<Page target="heading" />);
    await pressAct();
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "Things" }));
  });

  it("without a target lets focus fall to the body, as browsers do", async () => {
    render(<Page target="none" />);
    await pressAct();
    expect(document.activeElement).toBe(document.body);
  });

  it("leaves focus alone when the removed element did not have it", async () => {
    render(<Page target="heading" />);
    const elsewhere = screen.getByRole("button", { name: "Elsewhere" });
    elsewhere.focus();
    await act(async () => screen.getByRole("button", { name: "Act" }).click());
    expect(screen.queryByRole("button", { name: "Act" })).toBeNull();
    expect(document.activeElement).toBe(elsewhere);
  });

  it("leaves focus alone when the page moved it on purpose", async () => {
    render(<Page target="heading" autoFocusInput />);
    await pressAct();
    expect(document.activeElement).toBe(screen.getByRole("textbox", { name: "Note" }));
  });
});

describe("firstPresent", () => {
  afterEach(cleanup);

  it("skips missing and detached elements", () => {
    render(<button type="button">Here</button>);
    const here = screen.getByRole("button", { name: "Here" });
    const detached = document.createElement("button");
    expect(firstPresent(null, undefined, detached, here)).toBe(here);
    expect(firstPresent(null, detached)).toBeUndefined();
  });
});
