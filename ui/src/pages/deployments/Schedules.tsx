import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { ScheduleKind, ScheduleService, type Schedule } from "../../gen/ferry/v1/schedule_pb";
import { ConfirmButton } from "../../components/Confirm";
import { EmptyState, ErrorNotice, InfoNotice, Loading } from "../../components/Notice";
import { formatTime } from "../../lib/time";
import { Untrusted } from "../../components/Untrusted";
import { showUntrusted } from "../../lib/bidi";
import { durationText } from "./duration";
import { useSingleMutation } from "../../lib/action";

const previewCount = 5;

/** Lists the schedules of a deployment with their next fire times. */
export function Schedules({ deployment, canPause }: { deployment: string; canPause: boolean }) {
  const schedules = useClient(ScheduleService);
  const q = useQuery({
    queryKey: ["schedules", "list", deployment],
    queryFn: ({ signal }) => schedules.listSchedules({ deployment, pageSize: 1000 }, { signal }),
  });
  if (q.isPending) return <Loading what="Loading schedules" />;
  if (q.isError) return <ErrorNotice error={q.error} what="Cannot list schedules" onRetry={() => void q.refetch()} />;
  if (q.data.schedules.length === 0) {
    return (
      <EmptyState title="No schedules.">
        Add one under <code>schedules:</code> in the apply file and run <code>ferry apply -f ferry.yaml</code>.
      </EmptyState>
    );
  }
  return (
    <div className="cards schedule-cards">
      {q.data.schedules.map((s) => (
        <ScheduleCard key={s.id} schedule={s} canPause={canPause} />
      ))}
    </div>
  );
}

/** Describes what a schedule fires on, such as "cron 30 2 * * * (Europe/Paris)". */
function whenText(s: Schedule): string {
  const spec = s.spec;
  if (spec === undefined) return "";
  const zone = spec.zone || "UTC";
  switch (spec.kind) {
    case ScheduleKind.CRON:
      return `cron ${spec.expression} (${zone})`;
    case ScheduleKind.RRULE:
      return `RRULE ${spec.expression} (${zone})`;
    case ScheduleKind.INTERVAL:
      return `every ${durationText(spec.interval)}`;
    default:
      return spec.expression;
  }
}

/** One schedule: what it fires on, whether it is active, its next fire
 * times with daylight-saving notes, and pause/resume. */
function ScheduleCard({ schedule: s, canPause }: { schedule: Schedule; canPause: boolean }) {
  const client = useClient(ScheduleService);
  const qc = useQueryClient();
  const active = s.spec?.active ?? true;
  const preview = useQuery({
    queryKey: ["schedules", "preview", s.deployment, s.name, s.updateTime?.seconds.toString()],
    queryFn: ({ signal }) => client.previewSchedule({ deployment: s.deployment, name: s.name, count: previewCount }, { signal }),
  });
  const toggle = useSingleMutation({
    mutationFn: async () => {
      if (active) {
        const res = await client.pauseSchedule({ deployment: s.deployment, name: s.name });
        return `Paused ${s.name}; ${res.cancelledRuns} future run${res.cancelledRuns === 1 ? "" : "s"} cancelled.`;
      }
      await client.resumeSchedule({ deployment: s.deployment, name: s.name });
      return `Resumed ${s.name}.`;
    },
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["schedules"] }),
  });
  return (
    <section className="card" aria-label={showUntrusted(`Schedule ${s.name}`)}>
      <h3>
        <Untrusted text={s.name} /> <span className={`badge ${active ? "state-completed" : "state-cancelled"}`}>{active ? "Active" : "Paused"}</span>
      </h3>
      <p className="mono">
        <Untrusted text={whenText(s)} />
      </p>
      <h4>{active ? "Next fire times" : "Next fire times once resumed"}</h4>
      {preview.isPending && <Loading what="Computing fire times" />}
      {preview.isError && <ErrorNotice error={preview.error} what="Cannot preview" onRetry={() => void preview.refetch()} />}
      {preview.data && preview.data.fireTimes.length === 0 && <p className="hint">It fires no more.</p>}
      {preview.data && preview.data.fireTimes.length > 0 && (
        <ol className="fire-times" aria-label={showUntrusted(`Next fire times of ${s.name}`)}>
          {preview.data.fireTimes.map((f, i) => (
            <li key={i}>
              <Untrusted className="mono" text={f.localTime} /> <span className="hint">({formatTime(f.time)} your time)</span>
              {f.dstNote && (
                <span className="badge dst" title={showUntrusted(f.dstNote)}>
                  DST: <Untrusted text={f.dstNote} />
                </span>
              )}
            </li>
          ))}
        </ol>
      )}
      {!active && <p className="hint">Paused: it creates no runs until resumed.</p>}
      {canPause && (
        <ConfirmButton
          label={active ? `Pause schedule ${s.name}` : `Resume schedule ${s.name}`}
          busyLabel={active ? "Pausing…" : "Resuming…"}
          tone={active ? "danger" : "primary"}
          title={`${active ? "Pause" : "Resume"} schedule ${s.name}?`}
          body={
            active
              ? `It creates no more runs until resumed, and its runs created ahead that have not started are cancelled.`
              : `It creates runs again from its next fire time.`
          }
          confirmLabel={`Yes, ${active ? "pause" : "resume"} schedule ${s.name}`}
          busy={toggle.isPending}
          onOpen={() => toggle.reset()}
          onConfirm={() => toggle.mutate()}
        />
      )}
      {toggle.isSuccess && <InfoNotice>{toggle.data}</InfoNotice>}
      {toggle.isError && <ErrorNotice error={toggle.error} what={active ? "Cannot pause" : "Cannot resume"} />}
    </section>
  );
}
