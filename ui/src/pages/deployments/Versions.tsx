import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { DeploymentService, type DeploymentVersion } from "../../gen/ferry/v1/deployment_pb";
import { EmptyState, ErrorNotice, Loading } from "../../components/Notice";
import { diffLines, hasChanges } from "../../lib/diff";
import { formatTime } from "../../lib/time";
import { Untrusted } from "../../components/Untrusted";
import { showUntrusted } from "../../lib/bidi";
import { specText } from "./spec";

/** Lists a deployment's versions and shows a line diff between two of them. */
export function Versions({ name, current }: { name: string; current: number }) {
  const deployments = useClient(DeploymentService);
  const q = useQuery({
    queryKey: ["deployments", "versions", name, current],
    queryFn: ({ signal }) => deployments.listDeploymentVersions({ name }, { signal }),
  });
  if (q.isPending) return <Loading what="Loading versions" />;
  if (q.isError) return <ErrorNotice error={q.error} what="Cannot list versions" onRetry={() => void q.refetch()} />;
  const versions = q.data.versions;
  if (versions.length === 0) return <EmptyState title="No versions recorded." />;
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col" className="num">Version</th>
              <th scope="col">Created</th>
              <th scope="col">By</th>
              <th scope="col">Spec hash</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <th scope="row" className="num">
                  {v.version}
                  {v.version === current && <span className="hint"> (current)</span>}
                </th>
                <td>{formatTime(v.createTime)}</td>
                <td>{v.createdBy ? <Untrusted text={v.createdBy} /> : "—"}</td>
                <td className="mono" title={showUntrusted(v.specHash)}>
                  {showUntrusted(v.specHash.slice(0, 12))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {versions.length > 1 ? <VersionDiff versions={versions} /> : <p className="hint">Only one version so far: apply a changed spec to compare versions.</p>}
    </>
  );
}

/** Two version pickers and the diff of their pretty-printed specs. */
function VersionDiff({ versions }: { versions: DeploymentVersion[] }) {
  // Versions come newest first: compare the previous with the newest.
  const [from, setFrom] = useState(versions[1]!.version);
  const [to, setTo] = useState(versions[0]!.version);
  const a = versions.find((v) => v.version === from);
  const b = versions.find((v) => v.version === to);
  const diff = useMemo(() => diffLines(specText(a?.spec), specText(b?.spec)), [a, b]);
  const pick = (label: string, value: number, set: (v: number) => void) => (
    <div className="field">
      <label htmlFor={`diff-${label}`}>{label} version</label>
      <select id={`diff-${label}`} value={value} onChange={(e) => set(Number(e.target.value))}>
        {versions.map((v) => (
          <option key={v.version} value={v.version}>
            Version {v.version}
          </option>
        ))}
      </select>
    </div>
  );
  const added = diff.filter((l) => l.op === "+").length;
  const removed = diff.filter((l) => l.op === "-").length;
  return (
    <section aria-labelledby="diff-title">
      <h3 id="diff-title">Compare versions</h3>
      <div className="filters">
        {pick("From", from, setFrom)}
        {pick("To", to, setTo)}
      </div>
      {!hasChanges(diff) ? (
        <p className="hint">The two specs are the same.</p>
      ) : (
        <>
          <p className="hint" aria-live="polite">
            {removed} line{removed === 1 ? "" : "s"} removed, {added} added, from version {from} to version {to}.
          </p>
          <pre className="diff" aria-label={`Changes from version ${from} to version ${to}`}>
            {diff.map((l, i) => (
              <div key={i} className={l.op === "+" ? "diff-add" : l.op === "-" ? "diff-del" : "diff-same"}>
                {l.op === " " ? "  " : `${l.op} `}
                {showUntrusted(l.text)}
              </div>
            ))}
          </pre>
        </>
      )}
    </section>
  );
}
