import { Suspense, useEffect } from "react";
import { Navigate, NavLink, Outlet, Route, Routes, useLocation } from "react-router";
import { useSession } from "../api/session";
import { callMonitor } from "../api/monitor";
import { ConnectionBanner } from "../components/ConnectionBanner";
import { ErrorNotice, Loading } from "../components/Notice";
import { Untrusted } from "../components/Untrusted";
import NotFound from "../pages/NotFound";
import SignIn from "../pages/SignIn";
import * as Page from "./routes";

/** Where SignIn learns that a signed-in person's session ended elsewhere. */
export interface SignInState {
  /** sessionEnded is true when the app sent a signed-in person to sign in. */
  sessionEnded?: boolean;
}

/** The app's routes: sign-in outside the layout, every other page inside
 * it; above them, the banner saying when the control plane is not answering. */
export function App() {
  return (
    <>
      <ConnectionBanner />
      <Routes>
        <Route path="/signin" element={<SignIn />} />
        <Route element={<SignedIn />}>
          <Route index element={<Page.Dashboard />} />
          <Route path="runs" element={<Page.Runs />} />
          <Route path="runs/:id" element={<Page.RunDetail />} />
          <Route path="deployments" element={<Page.Deployments />} />
          <Route path="deployments/:name" element={<Page.DeploymentDetail />} />
          <Route path="pools" element={<Page.Pools />} />
          <Route path="audit" element={<Page.Audit />} />
          <Route path="policies" element={<Page.Policies />} />
          <Route path="api-keys" element={<Page.ApiKeys />} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </>
  );
}

/** Shows that a page's code is loading. It counts as a pending call, so a
 * control plane that stops serving the page's code brings up the banner. */
function PageLoading() {
  useEffect(() => {
    const id = callMonitor.begin();
    return () => callMonitor.end(id, "abandoned");
  }, []);
  return <Loading what="Loading the page" />;
}

const nav: [string, string][] = [
  ["/", "Dashboard"],
  ["/runs", "Runs"],
  ["/deployments", "Deployments"],
  ["/pools", "Pools & agents"],
  ["/audit", "Audit log"],
  ["/policies", "Policies"],
  ["/api-keys", "API keys"],
];

/** Shows the layout to a signed-in person and sends others to sign in. */
function SignedIn() {
  const session = useSession();
  const loc = useLocation();
  if (session.status === "loading") return <Loading what="Checking your session" />;
  if (session.status === "signed-out") {
    const next = loc.pathname + loc.search;
    // The last identity stays known when a session that worked ends (it
    // expired, or was revoked or signed out elsewhere); on a first visit and
    // after signing out here there is none.
    const state: SignInState = { sessionEnded: session.who !== undefined };
    return <Navigate to={next === "/" ? "/signin" : `/signin?next=${encodeURIComponent(next)}`} state={state} replace />;
  }
  if (session.status === "error") {
    return (
      <main className="content" id="main">
        <ErrorNotice error={session.error} what="Cannot load your session" onRetry={() => void session.refresh()} />
      </main>
    );
  }
  const who = session.who;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Ferry</span>
        <nav aria-label="Main">
          <ul>
            {nav.map(([to, label]) => (
              <li key={to}>
                <NavLink to={to} end={to === "/"}>
                  {label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="whoami">
          <span title={`workspace ${who?.workspaceId ?? ""}`}>
            <Untrusted text={who?.user?.email || who?.subject || ""} /> <span className="hint">({who?.role})</span>
          </span>
          <button type="button" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main className="content" id="main" tabIndex={-1}>
        <Suspense fallback={<PageLoading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
