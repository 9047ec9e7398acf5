import { Code, ConnectError } from "@connectrpc/connect";

/** What the UI tells a person about a failed call. */
export interface Problem {
  /** title says what happened, in words. */
  title: string;
  /** detail is the server's message, when it has one worth showing. */
  detail: string;
  /** action says what the person can do about it. */
  action: string;
  /** code is the Connect code, for tests and support. */
  code: Code | undefined;
}

const actions: Partial<Record<Code, { title: string; action: string }>> = {
  [Code.InvalidArgument]: { title: "The request was refused", action: "Correct the value named above and try again." },
  [Code.NotFound]: { title: "Not found", action: "It may have been deleted, or it belongs to another workspace. Check the address." },
  [Code.AlreadyExists]: { title: "It already exists", action: "Pick another name, or open the existing one." },
  [Code.PermissionDenied]: { title: "Your role does not allow this", action: "Ask an admin of this workspace for a role that does." },
  [Code.Unauthenticated]: { title: "You are signed out", action: "Sign in again to continue." },
  [Code.FailedPrecondition]: { title: "Not possible right now", action: "The object is not in a state that allows this; reload to see its current state." },
  [Code.ResourceExhausted]: { title: "Too many requests", action: "Wait a few seconds and try again." },
  [Code.Unavailable]: { title: "The control plane cannot be reached", action: "Check that ferry server is running and your network is up; the page retries on its own." },
  [Code.DeadlineExceeded]: { title: "The request took too long", action: "Try again; narrow the filters if it keeps happening." },
  [Code.Aborted]: { title: "Someone changed it at the same time", action: "Reload and try again." },
  [Code.Internal]: { title: "The control plane failed", action: "Try again; if it persists, the server log has the request id." },
  [Code.Unimplemented]: { title: "This server does not offer that", action: "The control plane may be older than this UI; upgrade it." },
};

/** Describes any error from a call for a person to read. */
export function describeError(err: unknown): Problem {
  const ce = ConnectError.from(err);
  const known = actions[ce.code];
  const detail = ce.rawMessage.trim();
  if (known) return { ...known, detail, code: ce.code };
  return {
    title: "Something went wrong",
    detail: detail || String(err),
    action: "Try again; if it persists, report it with the text above.",
    code: ce.code,
  };
}

// Codes after which the same call may well succeed: the server was
// unreachable, slow, busy or failed on its side. Other codes (a refused
// value, a missing object, a role) answer the same until something changes.
const retryableCodes = new Set<Code>([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
]);

/** Reports whether trying the same call again can help after an error with
 * code (undefined counts as Unknown). */
export function isRetryable(code: Code | undefined): boolean {
  return retryableCodes.has(code ?? Code.Unknown);
}

/** Reports whether err means the caller's credential is missing or no longer valid. */
export function isUnauthenticated(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.Unauthenticated;
}

/** Reports whether err is NotFound. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.NotFound;
}
