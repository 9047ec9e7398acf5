import { useEffect, useRef, useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Code, ConnectError } from "@connectrpc/connect";
import { useClient } from "../api/clients";
import { useSession } from "../api/session";
import { APIKeyService, type APIKey } from "../gen/ferry/v1/identity_pb";
import { ConfirmButton } from "../components/Confirm";
import { EmptyState, ErrorNotice, InfoNotice, Loading } from "../components/Notice";
import { Untrusted } from "../components/Untrusted";
import { showUntrusted } from "../lib/bidi";
import { PageHeader } from "../components/PageHeader";
import { formatRelative, formatTime } from "../lib/time";
import { Field } from "./admin/Field";
import { expiryTtl, keyStatus, maxExpiryDays } from "./admin/apiKeys";
import { grantableRoles, nameProblem } from "./admin/roles";
import { useSingleMutation } from "../lib/action";

const keysKey = ["apikeys"] as const;

/** A key just created: its secret lives here, in this page's state only,
 * until the person closes the panel. */
interface NewKey {
  key: APIKey;
  secret: string;
}

/** Lists the workspace's API keys, creates keys (the secret shown once) and
 * revokes them. */
export default function ApiKeys() {
  const client = useClient(APIKeyService);
  const qc = useQueryClient();
  const [created, setCreated] = useState<NewKey | null>(null);
  const [notice, setNotice] = useState("");
  // Where focus goes when a revoked key's Revoke button leaves the page.
  const keysHeading = useRef<HTMLHeadingElement>(null);
  const list = useQuery({ queryKey: keysKey, queryFn: ({ signal }) => client.listAPIKeys({}, { signal }) });
  const revoke = useSingleMutation({
    mutationFn: (k: APIKey) => client.revokeAPIKey({ id: k.id }),
    onSuccess: (_, k) => setNotice(`Key ${k.name} (${k.prefix}) is revoked; the server refuses it from its next call.`),
    onSettled: () => qc.invalidateQueries({ queryKey: keysKey }),
  });
  const denied = list.error instanceof ConnectError && list.error.code === Code.PermissionDenied;

  return (
    <>
      <PageHeader title="API keys" />
      <p className="hint">Keys let programs and CI jobs call Ferry. Each acts with the role it was given.</p>
      {created !== null ? (
        <SecretPanel
          created={created}
          onClose={() => {
            setNotice(`Key ${created.key.name} (${created.key.prefix}) is ready. Its secret is no longer shown.`);
            setCreated(null);
          }}
        />
      ) : (
        !denied && (
          <CreateKeyForm
            onCreated={(k) => {
              setNotice("");
              revoke.reset();
              setCreated(k);
              void qc.invalidateQueries({ queryKey: keysKey });
            }}
          />
        )
      )}
      {notice !== "" && <InfoNotice>{notice}</InfoNotice>}
      {revoke.isError && <ErrorNotice error={revoke.error} what={`Cannot revoke key ${revoke.variables?.name ?? ""}`} />}
      <h2 ref={keysHeading} tabIndex={-1}>
        Keys of this workspace
      </h2>
      {list.isPending ? (
        <Loading what="Loading API keys" />
      ) : list.isError ? (
        <ErrorNotice error={list.error} what="Cannot list API keys" onRetry={() => void list.refetch()} />
      ) : list.data.keys.length === 0 ? (
        <EmptyState title="No API keys yet.">Create one above for each program that calls Ferry.</EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="admin-table stack-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Prefix</th>
                <th scope="col">Owner</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.keys.map((k) => {
                const status = keyStatus(k);
                return (
                  <tr key={k.id}>
                    <th scope="row">
                      <Untrusted text={k.name} />
                    </th>
                    <td data-label="Role">
                      <Untrusted text={k.role} />
                    </td>
                    <td data-label="Prefix" className="mono">
                      <Untrusted text={k.prefix} />
                    </td>
                    <td data-label="Owner">{k.owner ? <Untrusted text={k.owner} /> : <span className="hint">installation</span>}</td>
                    <td data-label="Created" title={showUntrusted(`by ${k.createdBy}`)}>
                      {formatTime(k.createTime)}
                    </td>
                    <td data-label="Expires">{k.expireTime ? formatTime(k.expireTime) : "never"}</td>
                    <td data-label="Last used" className="nowrap" title={k.lastUseTime ? formatTime(k.lastUseTime) : undefined}>
                      {k.lastUseTime ? formatRelative(k.lastUseTime) : "never"}
                    </td>
                    <td data-label="Status">
                      <div>
                        <span className={`badge key-${status}`}>{status}</span>
                        {k.revokeTime && <div className="hint nowrap">{formatTime(k.revokeTime)}</div>}
                      </div>
                    </td>
                    <td data-label="Actions">
                      {status !== "revoked" && (
                        <ConfirmButton
                          label="Revoke"
                          name={`Revoke key ${k.name}`}
                          title={`Revoke ${k.name}?`}
                          body="Programs using it stop working."
                          confirmLabel={`Yes, revoke ${k.name}`}
                          tone="danger"
                          busy={revoke.isPending && revoke.variables?.id === k.id}
                          focusAfter={() => keysHeading.current}
                          onConfirm={() => {
                            setNotice("");
                            revoke.mutate(k);
                          }}
                        />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** The form creating a key. The secret never enters the query cache: the
 * mutation hands it to onCreated and keeps only the key's description. */
function CreateKeyForm({ onCreated }: { onCreated: (k: NewKey) => void }) {
  const client = useClient(APIKeyService);
  const { who } = useSession();
  const allowed = grantableRoles(who?.role);
  const [name, setName] = useState("");
  const [role, setRole] = useState<string>(allowed[0] ?? "");
  const [days, setDays] = useState("");
  const [serviceAccount, setServiceAccount] = useState("");
  const [problems, setProblems] = useState<{ name?: string; days?: string; serviceAccount?: string }>({});
  const create = useSingleMutation({
    mutationFn: async (req: { name: string; role: string; days: string; serviceAccount: string }) => {
      const res = await client.createAPIKey({ name: req.name, role: req.role, ttl: expiryTtl(req.days).ttl, serviceAccount: req.serviceAccount });
      if (res.key === undefined) throw new Error("the server answered without the key's description");
      onCreated({ key: res.key, secret: res.secret });
      return res.key;
    },
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const p = {
      name: nameProblem(name.trim()) || undefined,
      days: expiryTtl(days).error,
      serviceAccount: serviceAccount.trim() === "" ? undefined : nameProblem(serviceAccount.trim()) || undefined,
    };
    setProblems(p);
    if (p.name || p.days || p.serviceAccount) return;
    create.mutate({ name: name.trim(), role, days, serviceAccount: serviceAccount.trim() });
  }

  if (allowed.length === 0) {
    return <p className="hint">Your role ({who?.role || "none"}) cannot give any role to a key.</p>;
  }
  return (
    <form className="form" onSubmit={submit} aria-labelledby="create-key-title" noValidate>
      <h2 id="create-key-title">Create a key</h2>
      <Field id="key-name" label="Name" error={problems.name} help="Lower-case letters, digits and '-', such as ci-deploy.">
        <input
          id="key-name"
          type="text"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={63}
          required
          autoComplete="off"
          aria-invalid={problems.name ? true : undefined}
          aria-describedby="key-name-help"
        />
      </Field>
      <Field id="key-role" label="Role" help={`Up to your own role (${who?.role}). Give a key the least it needs.`}>
        <select id="key-role" value={role} onChange={(e) => setRole(e.target.value)} aria-describedby="key-role-help">
          {allowed.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </Field>
      <Field
        id="key-days"
        label="Expires in days (optional)"
        error={problems.days}
        help={`1 to ${maxExpiryDays}; empty for a key that does not expire.`}
      >
        <input
          id="key-days"
          type="text"
          inputMode="numeric"
          value={days}
          onChange={(e) => setDays(e.target.value)}
          aria-invalid={problems.days ? true : undefined}
          aria-describedby="key-days-help"
        />
      </Field>
      <Field
        id="key-sa"
        label="Service account (optional)"
        error={problems.serviceAccount}
        help="The key acts for this service account; empty makes it yours."
      >
        <input
          id="key-sa"
          type="text"
          value={serviceAccount}
          onChange={(e) => setServiceAccount(e.target.value)}
          maxLength={63}
          autoComplete="off"
          aria-invalid={problems.serviceAccount ? true : undefined}
          aria-describedby="key-sa-help"
        />
      </Field>
      {create.isError && <ErrorNotice error={create.error} what="Cannot create the key" />}
      <div>
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create key"}
        </button>
      </div>
    </form>
  );
}

/** Shows a new key's secret once, with a copy button and a warning. */
function SecretPanel({ created, onClose }: { created: NewKey; onClose: () => void }) {
  const headingRef = useRef<HTMLHeadingElement>(null);
  const codeRef = useRef<HTMLElement>(null);
  const [copy, setCopy] = useState<"" | "copied" | "failed">("");
  useEffect(() => headingRef.current?.focus(), []);

  async function copySecret() {
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopy("copied");
    } catch {
      // Clipboard access can be refused; select the text for a manual copy.
      const sel = window.getSelection();
      if (sel && codeRef.current) sel.selectAllChildren(codeRef.current);
      setCopy("failed");
    }
  }

  return (
    <section className="secret-panel" role="region" aria-labelledby="secret-title">
      <h2 id="secret-title" ref={headingRef} tabIndex={-1}>
        Key <Untrusted text={created.key.name} /> created
      </h2>
      <div className="notice notice-warn">
        <strong>Copy the key now: it will not be shown again.</strong>
        <p>Ferry keeps only a hash of it. If you lose it, revoke it and create another.</p>
      </div>
      <p>
        Role <strong>{showUntrusted(created.key.role)}</strong>
        {created.key.expireTime ? `, expires ${formatTime(created.key.expireTime)}` : ", does not expire"}.
      </p>
      <code className="secret" ref={codeRef} aria-label="The new API key">
        {created.secret}
      </code>
      <div className="page-actions">
        <button type="button" className="primary" onClick={() => void copySecret()}>
          Copy to clipboard
        </button>
        <button type="button" onClick={onClose}>
          I have copied it, close
        </button>
      </div>
      <p role="status" aria-live="polite" className={copy === "failed" ? "field-error" : "hint"}>
        {copy === "copied" ? "Copied to the clipboard." : copy === "failed" ? "Could not copy: the key is selected, copy it with your keyboard." : ""}
      </p>
    </section>
  );
}
