import { useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useClient } from "../api/clients";
import { hasRole, useSession } from "../api/session";
import { CollisionStrategy, DeploymentService, RetryCondition, type Deployment } from "../gen/ferry/v1/deployment_pb";
import { PauseService } from "../gen/ferry/v1/pause_pb";
import { ConfirmButton } from "../components/Confirm";
import { ErrorNotice, InfoNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { Untrusted } from "../components/Untrusted";
import { showUntrusted } from "../lib/bidi";
import { formatJson, prettyJson } from "../lib/json";
import { formatTime } from "../lib/time";
import { durationText } from "./deployments/duration";
import { RecentRuns } from "./deployments/RecentRuns";
import { RunForm } from "./deployments/RunForm";
import { Schedules } from "./deployments/Schedules";
import { Tags } from "./deployments/Tags";
import { Versions } from "./deployments/Versions";
import { useSingleMutation } from "../lib/action";

/** One deployment: its spec, the "run now" form, versions with a diff,
 * schedules and recent runs. */
export default function DeploymentDetail() {
  const name = useParams().name ?? "";
  const deployments = useClient(DeploymentService);
  const q = useQuery({
    queryKey: ["deployments", "get", name],
    queryFn: ({ signal }) => deployments.getDeployment({ name }, { signal }),
  });
  if (q.isPending) return <Loading what={`Loading deployment ${name}`} />;
  if (q.isError) {
    return (
      <>
        <PageHeader title={`Deployment ${name}`} />
        <ErrorNotice error={q.error} what={`Cannot load deployment ${name}`} onRetry={() => void q.refetch()} />
      </>
    );
  }
  const d = q.data.deployment;
  if (d === undefined) return <ErrorNotice error={new Error("the server returned no deployment")} what={`Cannot load deployment ${name}`} />;
  return <Detail deployment={d} />;
}

function Detail({ deployment: d }: { deployment: Deployment }) {
  const { who } = useSession();
  const canOperate = hasRole(who, "operator");
  const spec = d.spec;
  return (
    <>
      <PageHeader title={`Deployment ${d.name}`}>{canOperate && <PauseButton name={d.name} paused={d.paused} />}</PageHeader>
      {spec?.description && (
        <p className="deployment-description">
          <Untrusted text={spec.description} />
        </p>
      )}
      <dl className="props">
        <dt>Dispatch</dt>
        <dd>
          {d.paused ? (
            <span className="badge state-cancelled">Paused</span>
          ) : (
            <span className="badge state-completed">Active</span>
          )}{" "}
          {d.paused && <span className="hint">its runs stay scheduled until it is resumed</span>}
        </dd>
        <dt>Pool</dt>
        <dd>
          <Untrusted text={spec?.pool ?? ""} />
        </dd>
        <dt>Queue</dt>
        <dd>{spec?.queue ? <Untrusted text={spec.queue} /> : "default"}</dd>
        <dt>Version</dt>
        <dd>{d.version}</dd>
        {spec?.image && (
          <>
            <dt>Image</dt>
            <dd className="mono">
              <Untrusted text={spec.image} />
            </dd>
          </>
        )}
        <dt>Command</dt>
        <dd>
          <code>{showUntrusted(formatJson({ kind: "array", items: (spec?.command ?? []).map((c) => ({ kind: "string", value: c })) }, 0))}</code>
        </dd>
        <dt>Timeout</dt>
        <dd>{durationText(spec?.timeout) || "none"}</dd>
        <dt>Retries</dt>
        <dd>{retryText(d)}</dd>
        <dt>Priority</dt>
        <dd>{spec?.priority ?? 0}</dd>
        <dt>Concurrency</dt>
        <dd>{concurrencyText(d)}</dd>
        <dt>Tags</dt>
        <dd>
          <Tags tags={spec?.tags ?? []} />
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(d.createTime)}</dd>
        <dt>Updated</dt>
        <dd>{formatTime(d.updateTime)}</dd>
      </dl>

      <h2 id="run-now">Run now</h2>
      {canOperate ? (
        <RunForm key={d.version} deployment={d} />
      ) : (
        <p className="hint">Your role ({who?.role}) cannot start runs; an operator or above can.</p>
      )}

      <h2>Parameters</h2>
      <div className="spec-json">
        <section aria-labelledby="schema-title">
          <h3 id="schema-title">Schema</h3>
          {spec?.parametersSchema ? <pre>{showUntrusted(prettyJson(spec.parametersSchema))}</pre> : <p className="hint">No schema: any JSON object is accepted.</p>}
        </section>
        <section aria-labelledby="defaults-title">
          <h3 id="defaults-title">Defaults</h3>
          {spec?.defaultParameters ? <pre>{showUntrusted(prettyJson(spec.defaultParameters))}</pre> : <p className="hint">No defaults.</p>}
        </section>
        {spec?.jobVariables && (
          <section aria-labelledby="jobvars-title">
            <h3 id="jobvars-title">Job variables</h3>
            <pre>{showUntrusted(prettyJson(spec.jobVariables))}</pre>
          </section>
        )}
      </div>

      <h2>Versions</h2>
      <Versions name={d.name} current={d.version} />

      <h2>Schedules</h2>
      <Schedules deployment={d.name} canPause={canOperate} />

      <h2>Recent runs</h2>
      <RecentRuns deployment={d.name} />
    </>
  );
}

const conditionNames: Record<RetryCondition, string> = {
  [RetryCondition.UNSPECIFIED]: "any",
  [RetryCondition.FAILED]: "failed",
  [RetryCondition.CRASHED]: "crashed",
  [RetryCondition.TIMED_OUT]: "timed out",
};

/** Describes the retry policy, such as "3, after 10 s (doubling), on failed, crashed". */
function retryText(d: Deployment): string {
  const r = d.spec?.retry;
  if (r === undefined || r.retries === 0) return "none";
  const delay = durationText(r.delay);
  const on = r.on.length === 0 ? "any failure" : r.on.map((c) => conditionNames[c]).join(", ");
  return `${r.retries}${delay ? `, after ${delay} (doubling)` : ""}, on ${on}`;
}

const collisionNames: Record<CollisionStrategy, string> = {
  [CollisionStrategy.UNSPECIFIED]: "new runs wait",
  [CollisionStrategy.ENQUEUE]: "new runs wait",
  [CollisionStrategy.CANCEL_NEW]: "new runs are cancelled",
  [CollisionStrategy.CANCEL_OLDEST]: "the oldest runs are cancelled",
};

function concurrencyText(d: Deployment): string {
  const limit = d.spec?.concurrencyLimit ?? 0;
  if (limit === 0) return "no limit";
  return `at most ${limit} active; when full, ${collisionNames[d.spec!.collisionStrategy]}`;
}

/** Pauses dispatch of the deployment's runs, or resumes it when paused,
 * each after a confirmation as for pools and queues, and says what the call
 * changed. The button stays in place with its label flipped, so focus stays
 * on it (reading Resume after a pause). */
function PauseButton({ name, paused }: { name: string; paused: boolean }) {
  const pause = useClient(PauseService);
  const qc = useQueryClient();
  const m = useSingleMutation({
    mutationFn: async (action: "pause" | "resume") => {
      const target = { deployment: name };
      if (action === "pause") {
        const res = await pause.pause({ target });
        return res.changed ? `Paused ${name}: its runs stay scheduled until you resume it.` : `${name} was already paused.`;
      }
      const res = await pause.resume({ target });
      return res.changed ? `Resumed ${name}: its runs are offered to agents again.` : `${name} was not paused.`;
    },
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: ["deployments"] });
      void qc.invalidateQueries({ queryKey: ["runs"] });
    },
  });
  const action = paused ? "resume" : "pause";
  return (
    <div className="pause-actions">
      <ConfirmButton
        label={paused ? "Resume deployment" : "Pause deployment"}
        busyLabel={paused ? "Resuming…" : "Pausing…"}
        tone={paused ? "primary" : "danger"}
        title={`${paused ? "Resume" : "Pause"} deployment ${name}?`}
        body={
          paused
            ? `The scheduled runs of ${name} will be offered to agents again.`
            : `The dispatcher will offer none of the scheduled runs of ${name} to agents until it is resumed; they stay scheduled. Runs already claimed carry on.`
        }
        confirmLabel={`Yes, ${action} ${name}`}
        busy={m.isPending}
        onOpen={() => m.reset()}
        onConfirm={() => m.mutate(action)}
      />
      {m.isSuccess && <InfoNotice>{m.data}</InfoNotice>}
      {m.isError && <ErrorNotice error={m.error} what={`Cannot ${m.variables ?? action} deployment ${name}`} />}
    </div>
  );
}
