// Queries of pools, queues and agents shared by the pools page and the
// dashboard. Keys name the RPC and its arguments, so two pages asking the
// same thing share one cached answer.
import { useQueries, useQuery } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { WorkPoolService, WorkPoolType, type Agent } from "../../gen/ferry/v1/work_pool_pb";
import { toDate } from "../../lib/time";
import { agentHealth, type AgentHealth } from "./health";

/** refreshMs is how often pool, agent and dashboard figures are fetched again. */
export const refreshMs = 10_000;

/** Query keys of the work pool calls. */
export const poolKeys = {
  pools: ["WorkPoolService.ListWorkPools"] as const,
  pool: (name: string) => ["WorkPoolService.GetWorkPool", name] as const,
  queues: (pool: string) => ["WorkPoolService.ListWorkQueues", pool] as const,
  agents: (pool: string) => ["WorkPoolService.ListAgents", pool] as const,
};

/** Lists the workspace's work pools, refreshed every refreshMs. */
export function usePools() {
  const client = useClient(WorkPoolService);
  return useQuery({
    queryKey: poolKeys.pools,
    queryFn: ({ signal }) => client.listWorkPools({}, { signal }),
    refetchInterval: refreshMs,
  });
}

/** Lists the agents of every named pool, each pool its own query. */
export function useAgentsOfPools(pools: string[]) {
  const client = useClient(WorkPoolService);
  return useQueries({
    queries: pools.map((pool) => ({
      queryKey: poolKeys.agents(pool),
      queryFn: ({ signal }: { signal: AbortSignal }) => client.listAgents({ pool }, { signal }),
      refetchInterval: refreshMs,
    })),
  });
}

/** Returns the health of an agent at now. */
export function healthOf(a: Agent, now: Date): AgentHealth {
  return agentHealth({ online: a.online, lastHeartbeat: toDate(a.lastHeartbeatTime) }, now);
}

/** Returns the pool type as people read it. */
export function poolTypeName(t: WorkPoolType): string {
  switch (t) {
    case WorkPoolType.PROCESS:
      return "process";
    case WorkPoolType.DOCKER:
      return "docker";
    case WorkPoolType.ECS:
      return "ecs";
    default:
      return "unknown";
  }
}
