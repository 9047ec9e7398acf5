import { afterEach, describe, expect, it } from "vitest";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useSingleMutation } from "../lib/action";
import { ConfirmButton } from "./Confirm";

/** Renders a ConfirmButton whose action is a useSingleMutation; each call
 * is recorded and stays in flight until its resolver is called. */
function setup() {
  const calls: number[] = [];
  const pending: (() => void)[] = [];
  function Page() {
    const m = useSingleMutation({
      mutationFn: () => {
        calls.push(calls.length + 1);
        return new Promise<void>((ok) => pending.push(ok));
      },
    });
    return (
      <>
        <ConfirmButton
          label="Revoke"
          name="Revoke key ci"
          title={"Revoke ci\u202E?"}
          body="Programs using it stop working."
          confirmLabel="Yes, revoke ci"
          tone="danger"
          busy={m.isPending}
          busyLabel="Revoking…"
          onConfirm={() => m.mutate()}
        />
        {m.isSuccess && <p>Revoked.</p>}
      </>
    );
  }
  render(
    <QueryClientProvider client={new QueryClient()}>
      <Page />
    </QueryClientProvider>,
  );
  const trigger = () => screen.getByRole("button", { name: /^Revoke key ci$/ });
  return { calls, pending, trigger };
}

describe("ConfirmButton", () => {
  afterEach(cleanup);

  it("asks first, moves focus into the question, and Escape cancels without acting", () => {
    const { calls, trigger } = setup();
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(trigger().getAttribute("aria-expanded")).toBe("false");

    fireEvent.click(trigger());
    const dialog = screen.getByRole("alertdialog", { name: "Revoke ci⟨U+202E⟩?" });
    expect(dialog.getAttribute("aria-describedby")).not.toBeNull();
    expect(document.getElementById(dialog.getAttribute("aria-describedby")!)?.textContent).toBe("Programs using it stop working.");
    expect(trigger().getAttribute("aria-expanded")).toBe("true");
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Yes, revoke ci" }));

    fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(document.activeElement).toBe(trigger());
    expect(calls).toEqual([]);
  });

  it("returns focus to the button after Cancel", () => {
    const { calls, trigger } = setup();
    fireEvent.click(trigger());
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(document.activeElement).toBe(trigger());
    expect(calls).toEqual([]);
  });

  it("makes one call for a double press, shows it busy, and returns focus", async () => {
    const { calls, pending, trigger } = setup();
    fireEvent.click(trigger());
    const confirm = screen.getByRole("button", { name: "Yes, revoke ci" });
    fireEvent.click(confirm);
    fireEvent.click(confirm);
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(document.activeElement).toBe(trigger());
    await waitFor(() => expect(trigger().textContent).toBe("Revoking…"));
    expect(trigger().getAttribute("aria-disabled")).toBe("true");

    // While busy, a press neither asks again nor calls again.
    fireEvent.click(trigger());
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(calls).toEqual([1]);

    await act(async () => pending[0]!());
    await screen.findByText("Revoked.");
    expect(trigger().textContent).toBe("Revoke");
    expect(trigger().getAttribute("aria-disabled")).toBeNull();
    expect(calls).toEqual([1]);
  });
});

/** Renders a key list whose Revoke button leaves once the revoke succeeds,
 * or when hide is called (as when a poll finds the key revoked elsewhere),
 * with focusAfter naming the list's heading unless bare. */
function setupLeaving(bare = false) {
  const pending: (() => void)[] = [];
  let hide = () => {};
  function Page() {
    const heading = useRef<HTMLHeadingElement>(null);
    const [gone, setGone] = useState(false);
    hide = () => setGone(true);
    const m = useSingleMutation({ mutationFn: () => new Promise<void>((ok) => pending.push(ok)) });
    return (
      <>
        <h2 ref={heading} tabIndex={-1}>
          Keys
        </h2>
        {m.isSuccess || gone ? (
          <span>revoked</span>
        ) : (
          <ConfirmButton
            label="Revoke"
            title="Revoke ci?"
            confirmLabel="Yes, revoke ci"
            busy={m.isPending}
            focusAfter={bare ? undefined : () => heading.current}
            onConfirm={() => m.mutate()}
          />
        )}
      </>
    );
  }
  render(
    <QueryClientProvider client={new QueryClient()}>
      <Page />
    </QueryClientProvider>,
  );
  return { pending, hide: () => hide() };
}

describe("ConfirmButton leaving the page", () => {
  afterEach(cleanup);

  it("moves focus to focusAfter when its action removes it", async () => {
    const { pending } = setupLeaving();
    fireEvent.click(screen.getByRole("button", { name: "Revoke" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, revoke ci" }));
    // Closing the question returns focus to the button, not to focusAfter.
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(pending).toHaveLength(1));
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Revoke…" }));
    await act(async () => pending[0]!());
    await screen.findByText("revoked");
    expect(screen.queryByRole("button")).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "Keys" }));
  });

  it("moves focus to focusAfter when it leaves while its question has focus", async () => {
    const { hide } = setupLeaving();
    fireEvent.click(screen.getByRole("button", { name: "Revoke" }));
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Yes, revoke ci" }));
    await act(async () => hide());
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("heading", { name: "Keys" }));
  });

  it("leaves focus alone when it leaves without having it", async () => {
    const { hide } = setupLeaving();
    expect(document.activeElement).toBe(document.body);
    await act(async () => hide());
    await screen.findByText("revoked");
    expect(document.activeElement).toBe(document.body);
  });

  it("without focusAfter lets focus fall to the body", async () => {
    const { pending } = setupLeaving(true);
    fireEvent.click(screen.getByRole("button", { name: "Revoke" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, revoke ci" }));
    await waitFor(() => expect(pending).toHaveLength(1));
    await act(async () => pending[0]!());
    await screen.findByText("revoked");
    expect(document.activeElement).toBe(document.body);
  });
});
