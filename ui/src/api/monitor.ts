// The UI watches its own calls to tell a person when the control plane
// stops answering: a call pending for long, or calls failing as
// unreachable. withMonitor wraps the transport; CallMonitor holds the
// state; components/ConnectionBanner.tsx shows it.
import { Code, ConnectError, type Transport } from "@connectrpc/connect";

/** How long a unary call may run before the UI gives up on it, unless the
 * caller names its own timeout. Streams (WatchRun, FollowRunLogs) have none. */
export const unaryTimeoutMs = 30_000;

/** How long a call may be pending before the UI says the control plane is
 * not answering. */
export const slowAfterMs = 8_000;

/** How a call ended, as far as reaching the control plane goes. */
export type Outcome =
  /** answered: the control plane replied, with data or with an error. */
  | "answered"
  /** unreachable: no reply (network failure, timeout) or Unavailable. */
  | "unreachable"
  /** abandoned: the caller cancelled it (navigated away); it says nothing. */
  | "abandoned";

/** Returns how a call that failed with err ended. */
export function outcomeOf(err: unknown): Outcome {
  const ce = ConnectError.from(err);
  switch (ce.code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return "unreachable";
    case Code.Canceled:
      return "abandoned";
    case Code.Unknown:
      // fetch rejects with a TypeError when no reply arrives at all
      // (connection refused or reset); a reply with an unknown error is an answer.
      return ce.cause instanceof TypeError ? "unreachable" : "answered";
    default:
      return "answered";
  }
}

/** What the banner shows: nothing, or that the control plane is not answering. */
export type Connectivity = "ok" | "not-answering";

/** Tracks pending calls and how the last ones ended. The control plane is
 * "not answering" while a call has been pending for slowAfterMs or more, or
 * when the last call that ended got no answer; any answer clears it. */
export class CallMonitor {
  private next = 1;
  private readonly pending = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly slow = new Set<number>();
  private unreachable = false;
  private readonly listeners = new Set<() => void>();
  private state: Connectivity = "ok";

  constructor(private readonly slowMs: number = slowAfterMs) {}

  /** Notes that a call started; returns its id for end. */
  begin(): number {
    const id = this.next++;
    this.pending.set(
      id,
      setTimeout(() => {
        this.slow.add(id);
        this.update();
      }, this.slowMs),
    );
    return id;
  }

  /** Notes that call id ended with outcome. */
  end(id: number, outcome: Outcome): void {
    clearTimeout(this.pending.get(id));
    this.pending.delete(id);
    this.slow.delete(id);
    this.record(outcome);
  }

  /** Notes the outcome of a call that was not tracked from its start, such
   * as the opening of a stream. */
  record(outcome: Outcome): void {
    if (outcome === "answered") this.unreachable = false;
    if (outcome === "unreachable") this.unreachable = true;
    this.update();
  }

  /** Returns the current state. */
  current(): Connectivity {
    return this.state;
  }

  /** Reports whether any call is pending. */
  busy(): boolean {
    return this.pending.size > 0;
  }

  /** Calls listener whenever current() changes; returns the unsubscribe. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private update(): void {
    const next: Connectivity = this.unreachable || this.slow.size > 0 ? "not-answering" : "ok";
    if (next === this.state) return;
    this.state = next;
    for (const l of this.listeners) l();
  }
}

/** The monitor of the app's transport. */
export const callMonitor = new CallMonitor();

/** Wraps transport so monitor sees every call, and gives each unary call
 * without a timeout of its own timeoutMs, so no call waits forever on a
 * control plane that stopped answering. Streams keep no timeout: they are
 * meant to stay open; only whether they open is noted. */
export function withMonitor(transport: Transport, monitor: CallMonitor = callMonitor, timeoutMs: number = unaryTimeoutMs): Transport {
  return {
    async unary(method, signal, callTimeoutMs, header, input, contextValues) {
      const id = monitor.begin();
      try {
        const res = await transport.unary(method, signal, callTimeoutMs ?? timeoutMs, header, input, contextValues);
        monitor.end(id, "answered");
        return res;
      } catch (err) {
        monitor.end(id, outcomeOf(err));
        throw err;
      }
    },
    async stream(method, signal, callTimeoutMs, header, input, contextValues) {
      try {
        const res = await transport.stream(method, signal, callTimeoutMs, header, input, contextValues);
        monitor.record("answered");
        return res;
      } catch (err) {
        monitor.record(outcomeOf(err));
        throw err;
      }
    },
  };
}
