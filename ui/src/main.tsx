import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { TransportProvider } from "./api/clients";
import { isUnauthenticated } from "./api/errors";
import { withMonitor } from "./api/monitor";
import { SessionProvider, whoAmIKey } from "./api/session";
import { newTransport } from "./api/transport";
import { App } from "./app/App";
import "./styles.css";

// A call refused as Unauthenticated means the session ended (expired,
// revoked, signed out elsewhere): asking WhoAmI again flips the app to the
// sign-in page with the current address kept.
// WhoAmI's own failure is the session state itself and triggers nothing.
const onError = (err: unknown) => {
  if (isUnauthenticated(err) && queryClient.getQueryState(whoAmIKey)?.status === "success") {
    void queryClient.invalidateQueries({ queryKey: whoAmIKey });
  }
};
const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError: (err, query) => query.queryKey[0] !== whoAmIKey[0] && onError(err) }),
  mutationCache: new MutationCache({ onError }),
  defaultOptions: {
    queries: { retry: 1, refetchOnWindowFocus: true, staleTime: 5_000 },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <TransportProvider transport={withMonitor(newTransport())}>
      <QueryClientProvider client={queryClient}>
        {/* Without transitions, a click on a page whose code is still loading
            shows that page's loading state at once, instead of keeping the
            old page (and its highlighted menu item) until the code arrives. */}
        <BrowserRouter useTransitions={false}>
          <SessionProvider>
            <App />
          </SessionProvider>
        </BrowserRouter>
      </QueryClientProvider>
    </TransportProvider>
  </StrictMode>,
);
