import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { AuthService } from "../gen/ferry/v1/identity_pb";
import { CallMonitor, outcomeOf, withMonitor } from "./monitor";

describe("outcomeOf", () => {
  it.each([
    ["Unavailable", new ConnectError("down", Code.Unavailable), "unreachable"],
    ["a timeout", new ConnectError("slow", Code.DeadlineExceeded), "unreachable"],
    ["no reply at all", new TypeError("Failed to fetch"), "unreachable"],
    ["a refusal", new ConnectError("no", Code.PermissionDenied), "answered"],
    ["a server failure", new ConnectError("bug", Code.Internal), "answered"],
    ["an unknown error with a reply", new ConnectError("odd", Code.Unknown), "answered"],
    ["a cancel", new ConnectError("gone", Code.Canceled), "abandoned"],
  ])("%s", (_, err, want) => {
    expect(outcomeOf(err)).toBe(want);
  });
});

describe("CallMonitor", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("says not answering once a call is pending for the threshold, and clears when it ends", () => {
    const m = new CallMonitor(8_000);
    const changes: string[] = [];
    m.subscribe(() => changes.push(m.current()));
    const id = m.begin();
    vi.advanceTimersByTime(7_999);
    expect(m.current()).toBe("ok");
    vi.advanceTimersByTime(1);
    expect(m.current()).toBe("not-answering");
    m.end(id, "answered");
    expect(m.current()).toBe("ok");
    expect(changes).toEqual(["not-answering", "ok"]);
  });

  it("stays quiet for quick calls", () => {
    const m = new CallMonitor(8_000);
    for (let i = 0; i < 5; i++) {
      const id = m.begin();
      vi.advanceTimersByTime(3_000);
      m.end(id, "answered");
    }
    vi.advanceTimersByTime(60_000);
    expect(m.current()).toBe("ok");
  });

  it("says not answering after a call got no reply, until one is answered", () => {
    const m = new CallMonitor(8_000);
    m.end(m.begin(), "unreachable");
    expect(m.current()).toBe("not-answering");
    // A cancelled call says nothing either way.
    m.end(m.begin(), "abandoned");
    expect(m.current()).toBe("not-answering");
    m.end(m.begin(), "answered");
    expect(m.current()).toBe("ok");
  });

  it("keeps saying it while another call is still slow", () => {
    const m = new CallMonitor(8_000);
    const slow = m.begin();
    vi.advanceTimersByTime(9_000);
    m.end(m.begin(), "answered");
    expect(m.current()).toBe("not-answering");
    m.end(slow, "abandoned");
    expect(m.current()).toBe("ok");
  });
});

describe("withMonitor", () => {
  // A real Connect router in memory: WhoAmI answers, refuses, is
  // unavailable or never answers, as the request's workspace says.
  function setup(timeoutMs: number) {
    const router = createRouterTransport(({ service }) => {
      service(AuthService, {
        whoAmI: async (_req, ctx) => {
          const mode = ctx.requestHeader.get("x-mode");
          if (mode === "down") throw new ConnectError("restarting", Code.Unavailable);
          if (mode === "refuse") throw new ConnectError("signed out", Code.Unauthenticated);
          if (mode === "hang") await new Promise((_, fail) => ctx.signal.addEventListener("abort", () => fail(ctx.signal.reason)));
          return { subject: "someone" };
        },
      });
    });
    const monitor = new CallMonitor(50);
    const client = createClient(AuthService, withMonitor(router, monitor, timeoutMs));
    const call = (mode: string) => client.whoAmI({}, { headers: { "x-mode": mode } });
    return { monitor, call };
  }

  it("follows the outcome of calls", async () => {
    const { monitor, call } = setup(5_000);
    await expect(call("down")).rejects.toMatchObject({ code: Code.Unavailable });
    expect(monitor.current()).toBe("not-answering");
    await expect(call("refuse")).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(monitor.current()).toBe("ok");
    await expect(call("ok")).resolves.toMatchObject({ subject: "someone" });
    expect(monitor.busy()).toBe(false);
  });

  it("ends a call the control plane never answers with DeadlineExceeded", async () => {
    const { monitor, call } = setup(200);
    const states: string[] = [];
    monitor.subscribe(() => states.push(monitor.current()));
    await expect(call("hang")).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    // Pending past 50 ms, then timed out: not answering throughout.
    expect(states).toEqual(["not-answering"]);
    expect(monitor.current()).toBe("not-answering");
    expect(monitor.busy()).toBe(false);
  });
});
