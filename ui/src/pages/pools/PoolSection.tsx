import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { ConfirmButton } from "../../components/Confirm";
import { ErrorNotice, InfoNotice, Loading } from "../../components/Notice";
import { Untrusted } from "../../components/Untrusted";
import { showUntrusted } from "../../lib/bidi";
import { PauseService } from "../../gen/ferry/v1/pause_pb";
import { WorkPoolService, type Agent, type WorkPool } from "../../gen/ferry/v1/work_pool_pb";
import { prettyJson } from "../../lib/json";
import { formatRelative, formatTime } from "../../lib/time";
import { healthName } from "./health";
import { healthOf, poolKeys, poolTypeName, refreshMs } from "./queries";
import { useSingleMutation } from "../../lib/action";

/** PauseTarget is a pool, or a queue of it, to pause or resume. */
interface PauseTarget {
  pool: string;
  queue: string;
}

function targetName(t: PauseTarget): string {
  return t.queue === "" ? `pool ${t.pool}` : `queue ${t.queue} of pool ${t.pool}`;
}

/** What the last pause, resume, drain or undrain of this section did. */
type Outcome = { ok: true; text: string } | { ok: false; error: unknown; what: string };

/** Shows one work pool: its settings, its queues and its agents, with pause
 * and resume of the pool and of each queue, and drain and undrain of each
 * agent, each after a confirmation. */
export function PoolSection({ pool, now }: { pool: WorkPool; now: Date }) {
  const pools = useClient(WorkPoolService);
  const pauses = useClient(PauseService);
  const qc = useQueryClient();
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  const queues = useQuery({
    queryKey: poolKeys.queues(pool.name),
    queryFn: ({ signal }) => pools.listWorkQueues({ pool: pool.name }, { signal }),
    refetchInterval: refreshMs,
  });
  const agents = useQuery({
    queryKey: poolKeys.agents(pool.name),
    queryFn: ({ signal }) => pools.listAgents({ pool: pool.name }, { signal }),
    refetchInterval: refreshMs,
  });

  const toggle = useSingleMutation({
    mutationFn: async ({ target, pause }: { target: PauseTarget; pause: boolean }) => {
      const req = { target: { pool: target.pool, queue: target.queue } };
      const res = pause ? await pauses.pause(req) : await pauses.resume(req);
      return res.changed;
    },
    onMutate: () => setOutcome(null),
    onSuccess: (changed, { target, pause }) => {
      const name = targetName(target);
      const Name = name[0]!.toUpperCase() + name.slice(1);
      let text: string;
      if (!changed) text = `${Name} was already ${pause ? "paused" : "running"}; nothing changed.`;
      else if (pause) text = `${Name} paused: its scheduled runs wait until it is resumed; runs already claimed carry on.`;
      else text = `${Name} resumed: its scheduled runs are offered to agents again.`;
      setOutcome({ ok: true, text });
    },
    onError: (error, { target, pause }) => {
      setOutcome({ ok: false, error, what: `Cannot ${pause ? "pause" : "resume"} ${targetName(target)}` });
    },
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: poolKeys.pools });
      void qc.invalidateQueries({ queryKey: poolKeys.pool(pool.name) });
      void qc.invalidateQueries({ queryKey: poolKeys.queues(pool.name) });
    },
  });

  const drain = useSingleMutation({
    mutationFn: async ({ agent, drain }: { agent: Agent; drain: boolean }) => {
      const req = { pool: pool.name, name: agent.name };
      return drain ? await pools.drainAgent(req) : await pools.undrainAgent(req);
    },
    onMutate: () => setOutcome(null),
    onSuccess: ({ agent, changed }, { agent: asked, drain }) => {
      const name = `Agent ${asked.name}`;
      let text: string;
      if (drain && !changed) text = `${name} was already asked to drain; nothing changed.`;
      else if (drain) text = `${name} is draining: it is offered no new runs; ${heldRuns(agent?.activeRuns ?? 0)}.`;
      else if (!changed) text = `${name} had no drain request; nothing changed.`;
      else if (agent?.draining) text = `Drain request of ${name.toLowerCase()} lifted; the agent is shutting down, so it still takes no new runs.`;
      else text = `${name} undrained: it is offered runs again.`;
      setOutcome({ ok: true, text });
    },
    onError: (error, { agent, drain }) => {
      setOutcome({ ok: false, error, what: `Cannot ${drain ? "drain" : "undrain"} agent ${agent.name}` });
    },
    onSettled: () => void qc.invalidateQueries({ queryKey: poolKeys.agents(pool.name) }),
  });

  /** The confirmation of draining (wantDrain) or undraining an agent. */
  const drainButton = (agent: Agent, wantDrain: boolean) => (
    <ConfirmButton
      label={wantDrain ? "Drain" : "Undrain"}
      name={`${wantDrain ? "Drain" : "Undrain"} agent ${agent.name} of pool ${pool.name}`}
      tone={wantDrain ? undefined : "primary"}
      title={`${wantDrain ? "Drain" : "Undrain"} agent ${agent.name}?`}
      body={
        wantDrain
          ? `Agent ${agent.name} of pool ${pool.name} will be offered no new runs until it is undrained, even after it reconnects; ${heldRuns(agent.activeRuns)}.`
          : `Agent ${agent.name} of pool ${pool.name} will be offered runs again` + (agent.draining ? ", once it is no longer shutting down." : ".")
      }
      confirmLabel={wantDrain ? "Drain agent" : "Undrain agent"}
      busy={drain.isPending && drain.variables?.agent.id === agent.id}
      disabled={drain.isPending}
      onConfirm={() => drain.mutate({ agent, drain: wantDrain })}
    />
  );

  /** The confirmation of pausing (pause) or resuming a pool or queue; label is the button's text. */
  const pauseButton = (target: PauseTarget, pause: boolean, label: string) => {
    const name = targetName(target);
    const verb = pause ? "Pause" : "Resume";
    return (
      <ConfirmButton
        label={label}
        name={`${verb} ${name}`}
        tone={target.queue === "" ? (pause ? "danger" : "primary") : undefined}
        title={`${verb} ${name}?`}
        body={
          pause
            ? `The dispatcher will offer none of the scheduled runs of ${name} to agents until it is resumed. Runs already claimed carry on.`
            : `The scheduled runs of ${name} will be offered to agents again.`
        }
        confirmLabel={`${verb} ${target.queue === "" ? "pool" : "queue"}`}
        busy={toggle.isPending && toggle.variables?.target.queue === target.queue}
        disabled={toggle.isPending}
        onConfirm={() => toggle.mutate({ target, pause })}
      />
    );
  };

  const headingId = `pool-${pool.name}`;
  const template = showUntrusted(prettyJson(pool.baseJobTemplate));
  return (
    <section className="pool" aria-labelledby={headingId}>
      <div className="pool-head">
        <h2 id={headingId}>
          Pool <Untrusted text={pool.name} />{" "}
          <span className={`badge ${pool.paused ? "state-cancelled" : "state-completed"}`}>{pool.paused ? "Paused" : "Active"}</span>
        </h2>
        {pauseButton({ pool: pool.name, queue: "" }, !pool.paused, pool.paused ? "Resume pool" : "Pause pool")}
      </div>
      {outcome?.ok === true && <InfoNotice>{outcome.text}</InfoNotice>}
      {outcome?.ok === false && <ErrorNotice error={outcome.error} what={outcome.what} />}

      <dl className="props">
        <dt>Type</dt>
        <dd>{poolTypeName(pool.type)}</dd>
        <dt>Concurrency limit</dt>
        <dd>{pool.concurrencyLimit === 0 ? "No limit" : `${pool.concurrencyLimit} active runs at once`}</dd>
        <dt>Description</dt>
        <dd>{pool.description ? <Untrusted text={pool.description} /> : <span className="hint">None</span>}</dd>
        <dt>Created</dt>
        <dd>{formatTime(pool.createTime)}</dd>
      </dl>
      {template === "" ? (
        <p className="hint">No base job template: runs use the deployment's settings and the agent's defaults.</p>
      ) : (
        <details>
          <summary>Base job template</summary>
          <pre>{template}</pre>
        </details>
      )}

      <h3>Queues</h3>
      {queues.isPending && <Loading what="Loading queues" />}
      {queues.isError && <ErrorNotice error={queues.error} what={`Cannot list the queues of pool ${pool.name}`} onRetry={() => void queues.refetch()} />}
      {queues.isSuccess && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col" className="num">
                  Priority
                </th>
                <th scope="col">State</th>
                <th scope="col">Concurrency limit</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {queues.data.workQueues.map((q) => (
                <tr key={q.name}>
                  <th scope="row">
                    <Untrusted text={q.name} />
                  </th>
                  <td className="num">{q.priority}</td>
                  <td>
                    <span className={`badge ${q.paused ? "state-cancelled" : "state-completed"}`}>{q.paused ? "Paused" : "Active"}</span>
                  </td>
                  <td>{q.concurrencyLimit === 0 ? "No limit" : q.concurrencyLimit}</td>
                  <td>
                    {pauseButton({ pool: pool.name, queue: q.name }, !q.paused, q.paused ? "Resume" : "Pause")}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h3>Agents</h3>
      {agents.isPending && <Loading what="Loading agents" />}
      {agents.isError && <ErrorNotice error={agents.error} what={`Cannot list the agents of pool ${pool.name}`} onRetry={() => void agents.refetch()} />}
      {agents.isSuccess && agents.data.agents.length === 0 && (
        <div className="empty" role="status">
          <strong>
            No agent has connected to pool <Untrusted text={pool.name} />.
          </strong>
          <div>
            Where the runs should execute, create a token with{" "}
            <code>ferry agent token create --pool {showUntrusted(pool.name)} --name NAME &gt; agent-token</code>, save the keys work orders are
            signed with, <code>ferry keys ls --output agent &gt; trusted-keys</code>, and start{" "}
            <code>ferry-agent --server URL --token-file agent-token --trusted-keys-file trusted-keys</code>.
          </div>
        </div>
      )}
      {agents.isSuccess && agents.data.agents.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Health</th>
                <th scope="col">Version</th>
                <th scope="col">Last heartbeat</th>
                <th scope="col">Connected</th>
                <th scope="col" className="num">
                  Runs in flight
                </th>
                <th scope="col">Draining</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {agents.data.agents.map((a) => {
                const h = healthOf(a, now);
                return (
                  <tr key={a.id}>
                    <th scope="row">
                      <Untrusted text={a.name} />
                    </th>
                    <td>
                      <span className={`badge health-${h}`}>{healthName(h)}</span>
                    </td>
                    <td>{a.version ? <Untrusted text={a.version} /> : <span className="hint">unknown</span>}</td>
                    <td title={formatTime(a.lastHeartbeatTime)}>{formatRelative(a.lastHeartbeatTime, now)}</td>
                    <td title={formatTime(a.connectTime)}>{formatRelative(a.connectTime, now)}</td>
                    <td className="num">
                      {a.activeRuns} of {a.capacity}
                    </td>
                    <td>
                      <DrainState agent={a} />
                    </td>
                    <td>
                      {drainButton(a, !a.drainRequested)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Says whether an agent drains, and why: an operator asked for it (who
 * and when), the agent is shutting down, or both. */
function DrainState({ agent }: { agent: Agent }) {
  if (!agent.drainRequested && !agent.draining) return <>No</>;
  return (
    <span className="drain-state">
      {agent.drainRequested && (
        <>
          <span className="badge state-cancelling">Draining (requested by an operator)</span>
          <span className="hint">
            {agent.drainRequestedBy === "" ? "requested" : <>by <Untrusted text={agent.drainRequestedBy} /></>}, {formatTime(agent.drainRequestTime)}
          </span>
        </>
      )}
      {agent.draining && <span className="badge state-cancelling">Draining (agent shutting down)</span>}
    </span>
  );
}

/** Says what becomes of the runs a draining agent holds. */
function heldRuns(n: number): string {
  if (n === 0) return "it holds no runs now";
  return n === 1 ? "the run it holds carries on" : `the ${n} runs it holds carry on`;
}
