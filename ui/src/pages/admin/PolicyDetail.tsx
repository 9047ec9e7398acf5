import { useRef, useState } from "react";
import { Link } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { PolicyService, type PolicyKind } from "../../gen/ferry/v1/policy_pb";
import { ConfirmButton } from "../../components/Confirm";
import { ErrorNotice, InfoNotice, Loading } from "../../components/Notice";
import { Untrusted } from "../../components/Untrusted";
import { showUntrusted } from "../../lib/bidi";
import { formatTime } from "../../lib/time";
import { PolicyError } from "./Problems";
import { kindLabel, kindSlug } from "./policy";
import { useSingleMutation } from "../../lib/action";

/** The query keys of the policies page, for invalidation after changes. */
export const policiesKey = ["policies"] as const;

/** One policy: its versions, the source of one, and activation. */
export function PolicyDetail({ kind, name, version, canWrite }: { kind: PolicyKind; name: string; version: number; canWrite: boolean }) {
  const client = useClient(PolicyService);
  const qc = useQueryClient();
  const [done, setDone] = useState("");
  // Where focus goes when an Activate or Deactivate button leaves the page:
  // the title, which says which version is now active.
  const titleRef = useRef<HTMLHeadingElement>(null);
  const focusTitle = () => titleRef.current;
  const q = useQuery({
    queryKey: [...policiesKey, "get", kind, name, version],
    queryFn: ({ signal }) => client.getPolicy({ kind, name, sourceVersion: version }, { signal }),
  });
  const invalidate = () => qc.invalidateQueries({ queryKey: policiesKey });
  const activate = useSingleMutation({
    mutationFn: (v: number) => client.activatePolicyVersion({ kind, name, version: v }),
    onSuccess: (_, v) => setDone(`Version ${v} of ${name} is now in effect.`),
    onSettled: invalidate,
  });
  const deactivate = useSingleMutation({
    mutationFn: () => client.deactivatePolicy({ kind, name }),
    onSuccess: () => setDone(`${name} is no longer in effect; its versions are kept.`),
    onSettled: invalidate,
  });
  const href = (v: number) => `?kind=${kindSlug(kind)}&name=${encodeURIComponent(name)}&version=${v}`;

  if (q.isPending) return <Loading what={`Loading policy ${name}`} />;
  if (q.isError) return <ErrorNotice error={q.error} what={`Cannot load policy ${name}`} onRetry={() => void q.refetch()} />;
  const p = q.data.policy;
  const active = p?.activeVersion ?? 0;
  const source = q.data.source;
  return (
    <section aria-labelledby="policy-title" className="policy-detail">
      <h2 id="policy-title" ref={titleRef} tabIndex={-1}>
        {kindLabel(kind)} policy <Untrusted text={name} />{" "}
        {active > 0 ? <span className="badge decision-allowed">version {active} active</span> : <span className="badge">inactive</span>}
      </h2>
      {done !== "" && <InfoNotice>{done}</InfoNotice>}
      {activate.isError && <PolicyError error={activate.error} what={`Cannot activate version ${activate.variables}`} />}
      {deactivate.isError && <ErrorNotice error={deactivate.error} what={`Cannot deactivate ${name}`} />}
      {canWrite && active > 0 && (
        <p>
          <ConfirmButton
            label={`Deactivate ${name}`}
            title={`Take ${name} out of effect?`}
            body="Its denials stop applying at once; its versions are kept."
            confirmLabel={`Yes, deactivate ${name}`}
            tone="danger"
            busy={deactivate.isPending}
            disabled={activate.isPending}
            focusAfter={focusTitle}
            onConfirm={() => {
              setDone("");
              activate.reset();
              deactivate.mutate();
            }}
          />
        </p>
      )}
      <div className="table-wrap">
        <table className="admin-table">
          <caption className="hint">Versions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Uploaded</th>
              <th scope="col">By</th>
              <th scope="col">SHA-256</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {q.data.versions.map((v) => (
              <tr key={v.version} aria-current={source?.version === v.version ? "true" : undefined}>
                <th scope="row">{v.version}</th>
                <td className="nowrap">{formatTime(v.createTime)}</td>
                <td className="mono">
                  <Untrusted text={v.createdBy} />
                </td>
                <td className="mono" title={showUntrusted(v.sha256)}>
                  {showUntrusted(v.sha256.slice(0, 12))}
                </td>
                <td>{v.version === active ? <span className="badge decision-allowed">active</span> : <span className="hint">—</span>}</td>
                <td>
                  <div className="row-actions">
                    {source?.version === v.version ? (
                      <span className="hint">source shown</span>
                    ) : (
                      <Link to={href(v.version)}>View source</Link>
                    )}
                    {canWrite && v.version !== active && (
                      <ConfirmButton
                        label={`Activate version ${v.version}`}
                        title={`Put version ${v.version} of ${name} in effect${active > 0 ? ` instead of version ${active}` : ""}?`}
                        confirmLabel={`Yes, activate version ${v.version}`}
                        busy={activate.isPending && activate.variables === v.version}
                        disabled={activate.isPending || deactivate.isPending}
                        focusAfter={focusTitle}
                        onConfirm={() => {
                          setDone("");
                          deactivate.reset();
                          activate.mutate(v.version);
                        }}
                      />
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {source && (
        <>
          <h3 id="policy-source-title">
            Source of version {source.version}
            {source.version === active ? " (active)" : ""}
          </h3>
          <pre className="policy-source" aria-labelledby="policy-source-title" tabIndex={0}>
            {showUntrusted(source.source)}
          </pre>
        </>
      )}
    </section>
  );
}
