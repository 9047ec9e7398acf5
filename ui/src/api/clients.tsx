import { createContext, useContext, useMemo, type ReactNode } from "react";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";

const TransportContext = createContext<Transport | null>(null);

/** Makes transport available to useClient below it. */
export function TransportProvider({ transport, children }: { transport: Transport; children: ReactNode }) {
  return <TransportContext.Provider value={transport}>{children}</TransportContext.Provider>;
}

/** Returns a typed client of service on the app's transport. */
export function useClient<T extends DescService>(service: T): Client<T> {
  const transport = useContext(TransportContext);
  if (transport === null) throw new Error("useClient outside TransportProvider");
  return useMemo(() => createClient(service, transport), [service, transport]);
}
