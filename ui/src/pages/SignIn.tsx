import { useState, type FormEvent } from "react";
import { useLocation, useNavigate, useSearchParams } from "react-router";
import type { SignInState } from "../app/App";
import { AuthService } from "../gen/ferry/v1/identity_pb";
import { useClient } from "../api/clients";
import { storeApiKey } from "../api/credentials";
import { isUnauthenticated } from "../api/errors";
import { useSession } from "../api/session";
import { ErrorNotice, InfoNotice } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";

/** safeNext keeps a post-sign-in redirect on this site. */
export function safeNext(next: string | null): string {
  if (next === null || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}

/** Signs in with an email and password (a server session in an HttpOnly
 * cookie), or with an API key kept for this tab only. */
export default function SignIn() {
  const auth = useClient(AuthService);
  const session = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const ended = (useLocation().state as SignInState | null)?.sessionEnded === true;
  const [mode, setMode] = useState<"password" | "apikey">("password");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [workspace, setWorkspace] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "password") {
        storeApiKey("");
        await auth.login({ email: email.trim(), password, workspace: workspace.trim() });
      } else {
        storeApiKey(apiKey.trim());
        await auth.whoAmI({});
      }
      await session.refresh();
      navigate(safeNext(params.get("next")), { replace: true });
    } catch (err) {
      if (mode === "apikey") storeApiKey("");
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin" id="main">
      <PageHeader title="Sign in to Ferry" />
      {ended && error === null && (
        <InfoNotice>Your session ended (it expired, or was revoked or signed out elsewhere); sign in again to continue.</InfoNotice>
      )}
      <div className="tabs" role="tablist" aria-label="Sign-in method">
        <button type="button" role="tab" aria-selected={mode === "password"} onClick={() => setMode("password")}>
          Email and password
        </button>
        <button type="button" role="tab" aria-selected={mode === "apikey"} onClick={() => setMode("apikey")}>
          API key
        </button>
      </div>
      <form onSubmit={submit} className="form" aria-describedby="signin-help">
        {mode === "password" ? (
          <>
            <label>
              Email
              <input type="email" autoComplete="username" required maxLength={254} value={email} onChange={(e) => setEmail(e.target.value)} />
            </label>
            <label>
              Password
              <input type="password" autoComplete="current-password" required maxLength={1024} value={password} onChange={(e) => setPassword(e.target.value)} />
            </label>
            <label>
              Workspace <span className="hint">(only if you belong to several)</span>
              <input type="text" maxLength={63} value={workspace} onChange={(e) => setWorkspace(e.target.value)} />
            </label>
          </>
        ) : (
          <label>
            API key
            <input type="password" autoComplete="off" required maxLength={256} value={apiKey} onChange={(e) => setApiKey(e.target.value)} />
          </label>
        )}
        <p id="signin-help" className="hint">
          {mode === "password"
            ? "Your session lasts up to 7 days and ends after 12 hours unused."
            : "The key is kept in this tab only and forgotten when you close it or sign out."}
        </p>
        {error !== null &&
          (isUnauthenticated(error) ? (
            <div className="notice notice-error" role="alert">
              <strong>Sign-in failed</strong>
              <p>{mode === "password" ? "The email or password is wrong, or the account is locked for a while after many failures." : "The API key is wrong, expired or revoked."} Check it and try again.</p>
            </div>
          ) : (
            <ErrorNotice error={error} what="Sign-in failed" />
          ))}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
