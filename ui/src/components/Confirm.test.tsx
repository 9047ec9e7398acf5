import { afterEach, describe, expect, it } from "vitest";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
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
