import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useClient } from "../api/clients";
import { hasRole, useSession } from "../api/session";
import { PolicyService } from "../gen/ferry/v1/policy_pb";
import { EmptyState, ErrorNotice, Loading } from "../components/Notice";
import { PageHeader } from "../components/PageHeader";
import { Untrusted } from "../components/Untrusted";
import { formatTime } from "../lib/time";
import { DryRun } from "./admin/DryRun";
import { PolicyDetail, policiesKey } from "./admin/PolicyDetail";
import { newDraft, PolicyUpload, type PolicyDraft } from "./admin/PolicyUpload";
import { kindLabel, kindSlug, parseKind } from "./admin/policy";

/** The workspace's own Rego policies: versions and their sources,
 * activation, uploads, and dry runs of decisions. The selected policy and
 * version live in the URL. */
export default function Policies() {
  const client = useClient(PolicyService);
  const { who } = useSession();
  const canWrite = hasRole(who, "admin");
  const [params, setParams] = useSearchParams();
  const kind = parseKind(params.get("kind"));
  const name = params.get("name") ?? "";
  const version = Math.max(0, Math.trunc(Number(params.get("version") ?? 0)) || 0);
  const [draft, setDraft] = useState<PolicyDraft>(() => newDraft(kind, name));
  const list = useQuery({
    queryKey: [...policiesKey, "list"],
    queryFn: ({ signal }) => client.listPolicies({}, { signal }),
  });
  const policies = list.data?.policies ?? [];

  return (
    <>
      <PageHeader title="Policies" />
      <p className="hint">
        Workspace policies add denials to Ferry's built-in rules, never permissions: authorization policies decide calls,
        admission policies decide what a deployment may contain.
      </p>
      {list.isPending ? (
        <Loading what="Loading policies" />
      ) : list.isError ? (
        <ErrorNotice error={list.error} what="Cannot list policies" onRetry={() => void list.refetch()} />
      ) : policies.length === 0 ? (
        <EmptyState title="This workspace has no policies of its own.">
          {canWrite ? "Upload one below; it takes effect once you activate a version." : "An admin can upload one."} Until then
          the built-in policy decides alone.
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="admin-table">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                <th scope="col">In effect</th>
                <th scope="col" className="num">
                  Latest version
                </th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {policies.map((p) => {
                const selected = p.kind === kind && p.name === name;
                return (
                  <tr key={`${p.kind}/${p.name}`} aria-current={selected ? "true" : undefined}>
                    <td>{kindLabel(p.kind)}</td>
                    <th scope="row">
                      <Link to={`?kind=${kindSlug(p.kind)}&name=${encodeURIComponent(p.name)}`}>
                        <Untrusted text={p.name} />
                      </Link>
                    </th>
                    <td>
                      {p.activeVersion > 0 ? (
                        <span className="badge decision-allowed">version {p.activeVersion}</span>
                      ) : (
                        <span className="badge">inactive</span>
                      )}
                    </td>
                    <td className="num">{p.latestVersion}</td>
                    <td className="nowrap">{formatTime(p.updateTime)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {kind !== undefined && name !== "" && <PolicyDetail key={`${kind}/${name}`} kind={kind} name={name} version={version} canWrite={canWrite} />}
      {canWrite ? (
        <PolicyUpload
          draft={draft}
          onChange={setDraft}
          onUploaded={(r) => {
            if (r.policy && r.version) {
              setParams({ kind: kindSlug(r.policy.kind), name: r.policy.name, version: String(r.version.version) });
            }
          }}
        />
      ) : (
        <p className="hint">Your role ({who?.role}) can read policies and dry-run decisions; changing them needs an admin.</p>
      )}
      <DryRun policies={policies} draft={draft} />
    </>
  );
}
