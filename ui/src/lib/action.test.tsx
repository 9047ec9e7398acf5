import { describe, expect, it } from "vitest";
import { act, renderHook, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useSingleMutation } from "./action";

function setup() {
  const qc = new QueryClient();
  const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={qc}>{children}</QueryClientProvider>;
  const calls: number[] = [];
  const pending: ((v: number) => void)[] = [];
  let settled = 0;
  const hook = renderHook(
    () =>
      useSingleMutation({
        mutationFn: (n: number) => {
          calls.push(n);
          return new Promise<number>((ok) => pending.push(ok));
        },
        onSettled: () => {
          settled++;
        },
      }),
    { wrapper },
  );
  return { hook, calls, pending, settled: () => settled };
}

describe("useSingleMutation", () => {
  it("drops a second mutate while the first is in flight", async () => {
    const { hook, calls, pending, settled } = setup();
    act(() => {
      hook.result.current.mutate(1);
      hook.result.current.mutate(2);
    });
    await waitFor(() => expect(hook.result.current.isPending).toBe(true));
    act(() => hook.result.current.mutate(3));
    expect(calls).toEqual([1]);

    await act(async () => pending[0]!(10));
    await waitFor(() => expect(hook.result.current.isSuccess).toBe(true));
    expect(hook.result.current.data).toBe(10);
    expect(settled()).toBe(1);

    // Once settled, the next click calls again.
    act(() => hook.result.current.mutate(4));
    await waitFor(() => expect(calls).toEqual([1, 4]));
  });

  it("allows a new call after a failure", async () => {
    const qc = new QueryClient();
    const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={qc}>{children}</QueryClientProvider>;
    let n = 0;
    const hook = renderHook(
      () =>
        useSingleMutation({
          mutationFn: async () => {
            n++;
            throw new Error("refused");
          },
        }),
      { wrapper },
    );
    act(() => {
      hook.result.current.mutate();
      hook.result.current.mutate();
    });
    await waitFor(() => expect(hook.result.current.isError).toBe(true));
    expect(n).toBe(1);
    act(() => hook.result.current.mutate());
    await waitFor(() => expect(n).toBe(2));
  });
});
