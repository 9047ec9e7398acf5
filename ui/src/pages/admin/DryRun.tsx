import { useState, type FormEvent } from "react";
import { useClient } from "../../api/clients";
import { PolicyKind, PolicyService, type DryRunPolicyRequest, type Policy } from "../../gen/ferry/v1/policy_pb";
import { parseJson } from "../../lib/json";
import { showUntrusted } from "../../lib/bidi";
import { Untrusted } from "../../components/Untrusted";
import { Field } from "./Field";
import { PolicyError } from "./Problems";
import type { PolicyDraft } from "./PolicyUpload";
import { admissionInput, authzInput, policyKinds, type AdmissionForm, type AuthzForm } from "./policy";
import { roles } from "./roles";
import { useSingleMutation } from "../../lib/action";

const subjectKinds = ["apikey", "session", "agent", "anonymous"];
const poolTypes = ["process", "docker", "ecs"];

/** What the dry run evaluates besides the active policies: nothing, an
 * uploaded version ("name@3"), or the upload form's unsaved source. */
type Candidate = "" | "draft" | `${string}@${number}`;

/** Evaluates a decision against the built-in and active workspace policies,
 * optionally with a candidate in place of one, and explains it. */
export function DryRun({ policies, draft }: { policies: Policy[]; draft: PolicyDraft }) {
  const client = useClient(PolicyService);
  const [kind, setKind] = useState<PolicyKind>(PolicyKind.AUTHZ);
  const [authz, setAuthz] = useState<AuthzForm>({
    procedure: "/ferry.v1.RunService/CreateRun",
    subjectKind: "apikey",
    role: "developer",
    resourceType: "run",
    resourceName: "",
    deployment: "",
    pool: "",
  });
  const [admission, setAdmission] = useState<AdmissionForm>({
    deployment: "",
    poolType: "docker",
    spec: '{\n  "image": "alpine:3",\n  "tags": [],\n  "container": {"privileged": false}\n}',
  });
  const [rawMode, setRawMode] = useState(false);
  const [raw, setRaw] = useState("");
  const [candidate, setCandidate] = useState<Candidate>("");
  const [trace, setTrace] = useState(false);
  const [inputError, setInputError] = useState("");
  const run = useSingleMutation({ mutationFn: (req: Omit<DryRunPolicyRequest, "$typeName">) => client.dryRunPolicy(req) });

  const build = (): string => (kind === PolicyKind.AUTHZ ? authzInput(authz) : admissionInput(admission));
  const sameKind = policies.filter((p) => p.kind === kind);

  function submit(e: FormEvent) {
    e.preventDefault();
    let inputJson: string;
    try {
      inputJson = rawMode ? raw : build();
      if (parseJson(inputJson).kind !== "object") throw new Error("The input must be a JSON object.");
    } catch (err) {
      setInputError(err instanceof Error ? err.message : String(err));
      return;
    }
    setInputError("");
    const req = { kind, inputJson, name: "", version: 0, source: "", trace };
    if (candidate === "draft") {
      req.name = draft.name.trim();
      req.source = draft.source;
    } else if (candidate !== "") {
      const at = candidate.lastIndexOf("@");
      req.name = candidate.slice(0, at);
      req.version = Number(candidate.slice(at + 1));
    }
    run.mutate(req);
  }

  const setA = (key: keyof AuthzForm) => (e: { target: { value: string } }) => setAuthz({ ...authz, [key]: e.target.value });
  const setB = (key: keyof AdmissionForm) => (e: { target: { value: string } }) => setAdmission({ ...admission, [key]: e.target.value });
  const result = run.data;
  return (
    <form className="form form-wide" onSubmit={submit} aria-labelledby="dryrun-title" noValidate>
      <h2 id="dryrun-title">Dry-run a decision</h2>
      <p className="hint">Evaluates an input against the built-in policy and this workspace's active policies. It changes nothing.</p>
      <div className="filters">
        <label>
          Decision
          <select
            value={kind}
            onChange={(e) => {
              setKind(Number(e.target.value) as PolicyKind);
              setCandidate("");
              setRawMode(false);
              run.reset();
            }}
          >
            {policyKinds.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Evaluate with
          <select value={candidate} onChange={(e) => setCandidate(e.target.value as Candidate)}>
            <option value="">The active policies only</option>
            {draft.kind === kind && draft.name.trim() !== "" && <option value="draft">The unsaved source of {draft.name.trim()} (upload form)</option>}
            {sameKind.flatMap((p) =>
              Array.from({ length: p.latestVersion }, (_, i) => p.latestVersion - i).map((v) => (
                <option key={`${p.name}@${v}`} value={`${p.name}@${v}`}>
                  {showUntrusted(p.name)} version {v}
                  {v === p.activeVersion ? " (active)" : ""}
                </option>
              )),
            )}
          </select>
        </label>
      </div>
      {!rawMode &&
        (kind === PolicyKind.AUTHZ ? (
          <fieldset className="filters">
            <legend>The call</legend>
            <label className="grow">
              Procedure
              <input type="text" value={authz.procedure} onChange={setA("procedure")} required />
            </label>
            <label>
              Caller
              <select value={authz.subjectKind} onChange={setA("subjectKind")}>
                {subjectKinds.map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
            </label>
            <label>
              Role
              <select value={authz.role} onChange={setA("role")} disabled={authz.subjectKind === "agent" || authz.subjectKind === "anonymous"}>
                {roles.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            </label>
            <label>
              Resource type
              <input type="text" value={authz.resourceType} onChange={setA("resourceType")} placeholder="run" />
            </label>
            <label>
              Resource name
              <input type="text" value={authz.resourceName} onChange={setA("resourceName")} />
            </label>
            <label>
              Deployment
              <input type="text" value={authz.deployment} onChange={setA("deployment")} />
            </label>
            <label>
              Pool
              <input type="text" value={authz.pool} onChange={setA("pool")} />
            </label>
          </fieldset>
        ) : (
          <fieldset className="filters">
            <legend>The deployment</legend>
            <label>
              Deployment
              <input type="text" value={admission.deployment} onChange={setB("deployment")} />
            </label>
            <label>
              Pool type
              <select value={admission.poolType} onChange={setB("poolType")}>
                {poolTypes.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            </label>
            <div className="admin-field grow">
              <label htmlFor="dryrun-spec">Spec (JSON: image, tags, secrets, container)</label>
              <textarea id="dryrun-spec" value={admission.spec} onChange={setB("spec")} rows={5} spellCheck={false} />
            </div>
          </fieldset>
        ))}
      <label className="check">
        <input
          type="checkbox"
          checked={rawMode}
          onChange={(e) => {
            if (e.target.checked) {
              try {
                setRaw(build());
              } catch {
                setRaw("{}");
              }
            }
            setRawMode(e.target.checked);
          }}
        />
        Edit the input as JSON
      </label>
      {rawMode && (
        <Field id="dryrun-input" label="Input JSON" help="The object the policy sees as input.">
          <textarea
            id="dryrun-input"
            value={raw}
            onChange={(e) => setRaw(e.target.value)}
            rows={10}
            spellCheck={false}
            aria-describedby="dryrun-input-help"
          />
        </Field>
      )}
      <label className="check">
        <input type="checkbox" checked={trace} onChange={(e) => setTrace(e.target.checked)} />
        Include OPA's evaluation trace
      </label>
      {inputError !== "" && (
        <p className="field-error" role="alert">
          {inputError}
        </p>
      )}
      {run.isError && <PolicyError error={run.error} what="Cannot evaluate" />}
      <div>
        <button type="submit" className="primary" disabled={run.isPending}>
          {run.isPending ? "Evaluating…" : "Evaluate"}
        </button>
      </div>
      <div aria-live="polite">
        {run.isSuccess && result && (
          <section className="card dryrun-result" aria-labelledby="dryrun-result-title">
            <h3 id="dryrun-result-title">
              Decision:{" "}
              <span className={`badge ${result.allowed ? "decision-allowed" : "decision-denied"}`}>{result.allowed ? "allowed" : "denied"}</span>
            </h3>
            {result.denials.length > 0 && (
              <>
                <h4>Denied because</h4>
                <ul>
                  {result.denials.map((d, i) => (
                    <li key={i}>
                      <Untrusted text={d.message} />{" "}
                      <span className="hint">
                        ({d.workspace ? "workspace policy" : "built-in policy"}
                        {d.rule ? showUntrusted(`, ${d.rule}`) : ""})
                      </span>
                    </li>
                  ))}
                </ul>
              </>
            )}
            <p>
              Workspace policies evaluated:{" "}
              {result.modules.length > 0 ? <Untrusted className="mono" text={result.modules.join(", ")} /> : "none"}
            </p>
            {result.explanation.length > 0 && (
              <>
                <h4>Explanation</h4>
                <pre className="policy-explanation" tabIndex={0}>
                  {showUntrusted(result.explanation.join("\n"))}
                </pre>
              </>
            )}
          </section>
        )}
      </div>
    </form>
  );
}
