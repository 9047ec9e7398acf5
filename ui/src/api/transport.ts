import { createConnectTransport } from "@connectrpc/connect-web";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { storedApiKey } from "./credentials";

// Every call names the API key as a bearer credential when the person
// signed in with one; otherwise the browser sends the session cookie. The
// server's CSRF guard accepts cookie calls because Connect sends JSON with
// the Connect-Protocol-Version header, which no foreign page can forge
// without a preflight.
const bearer: Interceptor = (next) => async (req) => {
  const key = storedApiKey();
  if (key !== "") req.header.set("Authorization", `Bearer ${key}`);
  return next(req);
};

/** Creates the transport for the control plane serving this page. */
export function newTransport(baseUrl: string = window.location.origin): Transport {
  return createConnectTransport({
    baseUrl,
    useBinaryFormat: false,
    // Side-effect-free procedures may be sent as GET; the server marks them.
    useHttpGet: true,
    interceptors: [bearer],
    fetch: (input, init) => fetch(input, { ...init, credentials: "same-origin" }),
  });
}
