import { describe, expect, it } from "vitest";
import { act, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "../api/clients";
import { CallMonitor } from "../api/monitor";
import { AuthService } from "../gen/ferry/v1/identity_pb";
import { ConnectionBanner } from "./ConnectionBanner";

describe("ConnectionBanner", () => {
  it("shows while the control plane is not answering and clears when a call is answered", () => {
    const monitor = new CallMonitor(8_000);
    const transport = createRouterTransport(({ service }) => service(AuthService, { whoAmI: () => ({ subject: "x" }) }));
    render(
      <TransportProvider transport={transport}>
        <QueryClientProvider client={new QueryClient()}>
          <ConnectionBanner monitor={monitor} />
        </QueryClientProvider>
      </TransportProvider>,
    );
    const region = screen.getByRole("status");
    expect(region.getAttribute("aria-live")).toBe("polite");
    expect(region.textContent).toBe("");
    act(() => monitor.record("unreachable"));
    expect(region.textContent).toContain("The control plane is not answering; retrying…");
    act(() => monitor.record("answered"));
    expect(region.textContent).toBe("");
  });
});
