import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { useClient } from "../api/clients";
import { EmptyState, ErrorNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { RunLink } from "../components/RunLink";
import { Untrusted } from "../components/Untrusted";
import { StateBadge } from "../components/StateBadge";
import { RunService, RunState } from "../gen/ferry/v1/run_pb";
import { formatRelative, formatTime, toDate } from "../lib/time";
import { RunsChart } from "./dashboard/RunsChart";
import type { StatsBucket } from "./dashboard/chart";
import { refreshMs, useAgentsOfPools, usePools, healthOf } from "./pools/queries";
import { formatFilters, noFilters } from "./runs/filters";

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

/** The windows a person can pick: how far back, how wide a bar, and how bars are labelled. */
const windows = {
  "24h": {
    label: "Last 24 hours",
    period: "the last 24 hours",
    windowMs: dayMs,
    bucketMs: hourMs,
    format: (d: Date) => d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }),
  },
  "7d": {
    label: "Last 7 days",
    period: "the last 7 days",
    windowMs: 7 * dayMs,
    bucketMs: 6 * hourMs,
    format: (d: Date) => d.toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" }),
  },
} as const;
type WindowName = keyof typeof windows;

// How many of the latest failures the dashboard lists.
const latestFailures = 5;

const failedStates = [RunState.FAILED, RunState.CRASHED];

/** The dashboard: runs by state over time, late runs, the last day's failures and the agents online. */
export default function Dashboard() {
  const [params, setParams] = useSearchParams();
  const windowName: WindowName = params.get("window") === "7d" ? "7d" : "24h";
  const w = windows[windowName];
  const runs = useClient(RunService);

  const stats = useQuery({
    queryKey: ["RunService.GetRunStats", windowName],
    queryFn: ({ signal }) =>
      runs.getRunStats({ window: durationFromMs(w.windowMs), bucket: durationFromMs(w.bucketMs) }, { signal }),
    refetchInterval: refreshMs,
  });
  const failures = useQuery({
    queryKey: ["RunService.ListRuns", "dashboard-failures"],
    queryFn: ({ signal }) => runs.listRuns({ states: failedStates, pageSize: latestFailures }, { signal }),
    refetchInterval: refreshMs,
  });
  const pools = usePools();
  const poolNames = useMemo(() => pools.data?.workPools.map((p) => p.name) ?? [], [pools.data]);
  const agentQueries = useAgentsOfPools(poolNames);

  const buckets: StatsBucket[] = useMemo(
    () =>
      (stats.data?.buckets ?? []).map((b) => ({
        start: b.startTime ? timestampDate(b.startTime) : new Date(0),
        counts: b.counts.map((c) => ({ state: c.state, count: c.count })),
      })),
    [stats.data],
  );
  const empty = stats.isSuccess && buckets.every((b) => b.counts.every((c) => c.count === 0n));

  const now = new Date();
  const agents = agentQueries.flatMap((q) => q.data?.agents ?? []);
  const agentsLoaded = pools.isSuccess && agentQueries.every((q) => q.isSuccess);
  const agentError = pools.error ?? agentQueries.find((q) => q.isError)?.error;
  const health = agents.map((a) => healthOf(a, now));
  const online = health.filter((h) => h !== "offline").length;
  const stale = health.filter((h) => h === "stale").length;

  const dayAgo = now.getTime() - dayMs;
  const recentFailures = (failures.data?.runs ?? []).filter((r) => (toDate(r.endTime)?.getTime() ?? 0) >= dayAgo);

  return (
    <>
      <PageHeader title="Dashboard">
        <label className="inline-label">
          Window
          <select
            value={windowName}
            onChange={(e) => {
              const next = new URLSearchParams(params);
              if (e.target.value === "24h") next.delete("window");
              else next.set("window", e.target.value);
              setParams(next, { replace: true });
            }}
          >
            {(Object.keys(windows) as WindowName[]).map((k) => (
              <option key={k} value={k}>
                {windows[k].label}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      <p className="hint">
        Refreshed every {refreshMs / 1000} s
        {stats.dataUpdatedAt > 0 && <> · last at {formatTime(new Date(stats.dataUpdatedAt))}</>}
      </p>

      <div className="cards">
        <section className="card" aria-labelledby="card-late">
          <h2 id="card-late" className="card-title">
            Late runs
          </h2>
          <div className="value">{stats.data ? String(stats.data.lateRuns) : "—"}</div>
          <p className="hint">Scheduled runs past their start time that no agent has taken yet.</p>
          <Link to={`/runs?${formatFilters({ ...noFilters, late: true })}`}>Show late runs</Link>
        </section>

        <section className="card" aria-labelledby="card-failed">
          <h2 id="card-failed" className="card-title">
            Failures in the last day
          </h2>
          <div className="value">{stats.data ? String(stats.data.failedLastDay) : "—"}</div>
          <p className="hint">Runs that ended Failed or Crashed in the last 24 hours.</p>
          <Link to={`/runs?${formatFilters({ ...noFilters, states: failedStates })}`}>Show failed runs</Link>
        </section>

        <section className="card" aria-labelledby="card-agents">
          <h2 id="card-agents" className="card-title">
            Agents online
          </h2>
          <div className="value">{agentsLoaded ? online : "—"}</div>
          <p className="hint">
            {agentsLoaded
              ? `${online} of ${agents.length} ${agents.length === 1 ? "agent" : "agents"} in ${poolNames.length} ${poolNames.length === 1 ? "pool" : "pools"}` +
                (stale > 0 ? `; ${stale} stale (a heartbeat is late)` : "")
              : "Counting the agents of every pool"}
          </p>
          <Link to="/pools">Show pools and agents</Link>
        </section>
      </div>
      {agentError !== undefined && agentError !== null && (
        <ErrorNotice error={agentError} what="Cannot count the agents" onRetry={() => void pools.refetch()} />
      )}

      <section aria-labelledby="runs-by-state">
        <h2 id="runs-by-state">Runs by state, {w.label.toLowerCase()}</h2>
        {stats.isPending && <Loading what="Loading the run figures" />}
        {stats.isError && <ErrorNotice error={stats.error} what="Cannot load the run figures" onRetry={() => void stats.refetch()} />}
        {empty && (
          <EmptyState title={`No runs in ${w.period}.`}>
            Start one from <Link to="/deployments">Deployments</Link>, or with <code>ferry run start NAME</code>.
          </EmptyState>
        )}
        {stats.isSuccess && !empty && <RunsChart buckets={buckets} period={w.period} bucketMs={w.bucketMs} formatStart={w.format} />}
      </section>

      <section aria-labelledby="latest-failures">
        <h2 id="latest-failures">Latest failures</h2>
        {failures.isPending && <Loading what="Loading the latest failures" />}
        {failures.isError && (
          <ErrorNotice error={failures.error} what="Cannot load the latest failures" onRetry={() => void failures.refetch()} />
        )}
        {failures.isSuccess && recentFailures.length === 0 && (
          <EmptyState title="No failures in the last 24 hours.">
            Runs that end Failed or Crashed show up here with a link to their logs.
          </EmptyState>
        )}
        {recentFailures.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">State</th>
                  <th scope="col">Ended</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {recentFailures.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <RunLink id={r.id} label={r.deployment} />
                    </td>
                    <td>
                      <StateBadge state={r.state} detail={r.stateName} />
                    </td>
                    <td title={formatTime(r.endTime)}>{formatRelative(r.endTime, now)}</td>
                    <td>{r.stateMessage ? <Untrusted text={r.stateMessage} /> : r.exitCode !== undefined ? `exit code ${r.exitCode}` : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
