import { EmptyState, ErrorNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { LimitsSection } from "./pools/LimitsSection";
import { PoolSection } from "./pools/PoolSection";
import { healthHint } from "./pools/health";
import { refreshMs, usePools } from "./pools/queries";
import { useNow } from "./pools/useNow";

/** The work pools page: each pool with its queues and agents, pause and
 * resume, drain and undrain, and the workspace's concurrency limits. */
export default function Pools() {
  const pools = usePools();
  const now = useNow(5_000);
  return (
    <>
      <PageHeader title="Pools & agents" />
      <p className="hint">Refreshed every {refreshMs / 1000} s.</p>
      <details className="hint-box">
        <summary>What online, stale and offline mean, and how to drain an agent</summary>
        <p>{healthHint}</p>
        <p>
          To drain an agent, use its Drain button (operators and above) or <code>ferry agent drain NAME --pool POOL</code>: it
          is offered no new runs, even after it reconnects, while the runs it holds carry on. It shows as Draining (requested by
          an operator) until someone undrains it.
        </p>
        <p>
          An agent also drains by itself when <code>ferry-agent</code> is stopped with SIGTERM (for example{" "}
          <code>systemctl stop</code>, <code>docker stop</code>, or scaling its ECS service down). It then shows as Draining
          (agent shutting down), lets the runs it holds finish within its <code>--shutdown-grace</code>, and reports the rest
          Crashed so a retry policy can run them again.
        </p>
      </details>

      {pools.isPending && <Loading what="Loading work pools" />}
      {pools.isError && <ErrorNotice error={pools.error} what="Cannot list the work pools" onRetry={() => void pools.refetch()} />}
      {pools.isSuccess && pools.data.workPools.length === 0 && (
        <EmptyState title="No work pools yet.">
          Create one with <code>ferry apply -f ferry.yaml</code> (a <code>pools:</code> entry), then start an agent for it.
        </EmptyState>
      )}
      {pools.data?.workPools.map((p) => <PoolSection key={p.name} pool={p} now={now} />)}

      <LimitsSection />
    </>
  );
}
