// Agent health as the pools page and the dashboard show it. The control
// plane decides "online" (connected, and a heartbeat within three heartbeat
// intervals); the UI refines an online agent that has missed a heartbeat as
// "stale", an early sign of trouble before the server lists it offline.

/** AgentHealth is what a person reads about an agent's connection. */
export type AgentHealth = "online" | "stale" | "offline";

/** heartbeatIntervalMs is how often agents heartbeat with the server's defaults (a third of the 30 s lease). */
export const heartbeatIntervalMs = 10_000;

/** staleAfterMs is how long since the last heartbeat makes an online agent stale: two intervals, so one late heartbeat is not reported. */
export const staleAfterMs = 2 * heartbeatIntervalMs;

/** healthHint explains the thresholds to a person. */
export const healthHint =
  "Agents send a heartbeat every 10 s (with the server's default lease of 30 s). " +
  "Online: connected, last heartbeat within 20 s. " +
  "Stale: still connected but silent for more than 20 s, so at least one heartbeat is late. " +
  "Offline: disconnected, or silent for three intervals (30 s by default), as the control plane decides; " +
  "its runs are given to other agents when their leases expire.";

/** Derives an agent's health at now from the server's online flag and its last heartbeat. */
export function agentHealth(agent: { online: boolean; lastHeartbeat: Date | undefined }, now: Date): AgentHealth {
  if (!agent.online) return "offline";
  if (agent.lastHeartbeat === undefined) return "stale";
  // A heartbeat "in the future" is clock skew between browser and server, not silence.
  return now.getTime() - agent.lastHeartbeat.getTime() > staleAfterMs ? "stale" : "online";
}

/** Returns the health's name as people read it. */
export function healthName(h: AgentHealth): string {
  return h === "online" ? "Online" : h === "stale" ? "Stale" : "Offline";
}
