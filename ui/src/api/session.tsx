import { createContext, useCallback, useContext, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { WhoAmIResponse } from "../gen/ferry/v1/identity_pb";
import { AuthService } from "../gen/ferry/v1/identity_pb";
import { useClient } from "./clients";
import { storeApiKey, storedApiKey } from "./credentials";
import { isUnauthenticated } from "./errors";

/** Who is signed in, as the control plane sees the caller. */
export interface Session {
  /** who is the WhoAmI answer; undefined while loading or when signed out. */
  who: WhoAmIResponse | undefined;
  /** status is "loading", "signed-in", "signed-out" or "error". */
  status: "loading" | "signed-in" | "signed-out" | "error";
  /** error is the WhoAmI failure other than Unauthenticated. */
  error: unknown;
  /** refresh asks the server again, after signing in. */
  refresh: () => Promise<void>;
  /** signOut ends the session on the server and forgets any API key. */
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/** The query key of the caller's identity. */
export const whoAmIKey = ["whoami"] as const;

/** Loads and provides the session. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const auth = useClient(AuthService);
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: whoAmIKey,
    queryFn: ({ signal }) => auth.whoAmI({}, { signal }),
    retry: (n, err) => !isUnauthenticated(err) && n < 2,
    staleTime: 60_000,
  });
  const refresh = useCallback(async () => {
    await qc.resetQueries();
  }, [qc]);
  const signOut = useCallback(async () => {
    try {
      if (storedApiKey() === "") await auth.logout({});
    } finally {
      storeApiKey("");
      // Drop every answer fetched with the old credential, then ask who is
      // calling now: the answer (Unauthenticated) shows the sign-in page.
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== whoAmIKey[0] });
      await qc.resetQueries({ queryKey: whoAmIKey });
    }
  }, [auth, qc]);
  let status: Session["status"] = "loading";
  if (q.isSuccess) status = "signed-in";
  else if (q.isError) status = isUnauthenticated(q.error) ? "signed-out" : "error";
  const value: Session = { who: q.data, status, error: q.error, refresh, signOut };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** Returns the current session. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (s === null) throw new Error("useSession outside SessionProvider");
  return s;
}

/** Roles in order of what they may do; index is the rank. */
const roleRank = ["viewer", "operator", "developer", "admin", "owner"];

/** Reports whether the session's role is at least min (for hiding actions the
 * server would refuse anyway; the server decides). */
export function hasRole(who: WhoAmIResponse | undefined, min: string): boolean {
  if (who === undefined) return false;
  return roleRank.indexOf(who.role) >= roleRank.indexOf(min);
}
