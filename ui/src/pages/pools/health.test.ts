import { describe, expect, it } from "vitest";
import { agentHealth, healthName, staleAfterMs, type AgentHealth } from "./health";

describe("agentHealth", () => {
  const now = new Date("2026-03-01T12:00:00Z");
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const cases: { name: string; online: boolean; lastHeartbeat: Date | undefined; want: AgentHealth }[] = [
    { name: "fresh heartbeat", online: true, lastHeartbeat: ago(3_000), want: "online" },
    { name: "exactly at the threshold", online: true, lastHeartbeat: ago(staleAfterMs), want: "online" },
    { name: "one heartbeat late", online: true, lastHeartbeat: ago(staleAfterMs + 1), want: "stale" },
    { name: "online without a heartbeat", online: true, lastHeartbeat: undefined, want: "stale" },
    { name: "browser clock behind the server", online: true, lastHeartbeat: ago(-60_000), want: "online" },
    { name: "server says offline despite a fresh heartbeat (disconnected)", online: false, lastHeartbeat: ago(1_000), want: "offline" },
    { name: "long silent", online: false, lastHeartbeat: ago(3_600_000), want: "offline" },
  ];
  it.each(cases)("$name → $want", ({ online, lastHeartbeat, want }) => {
    expect(agentHealth({ online, lastHeartbeat }, now)).toBe(want);
  });
});

describe("healthName", () => {
  it("names every health", () => {
    expect((["online", "stale", "offline"] as const).map(healthName)).toEqual(["Online", "Stale", "Offline"]);
  });
});
