import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { PolicyKind, PolicyService, type UploadPolicyResponse } from "../../gen/ferry/v1/policy_pb";
import { InfoNotice } from "../../components/Notice";
import { policiesKey } from "./PolicyDetail";
import { Field } from "./Field";
import { PolicyError } from "./Problems";
import { nameProblem } from "./roles";
import { policyKinds, policyTemplate } from "./policy";
import { useSingleMutation } from "../../lib/action";

/** What the upload form holds; the dry run may evaluate it unsaved. */
export interface PolicyDraft {
  kind: PolicyKind;
  name: string;
  source: string;
}

/** Returns a fresh draft of kind, starting from the kind's template. */
export function newDraft(kind: PolicyKind = PolicyKind.AUTHZ, name = ""): PolicyDraft {
  return { kind, name, source: policyTemplate(kind) };
}

/** Uploads a new version of a policy; the server compiles it first and names
 * file:line:col of any problem, shown next to the source. */
export function PolicyUpload({
  draft,
  onChange,
  onUploaded,
}: {
  draft: PolicyDraft;
  onChange: (d: PolicyDraft) => void;
  onUploaded: (r: UploadPolicyResponse) => void;
}) {
  const client = useClient(PolicyService);
  const qc = useQueryClient();
  const [nameError, setNameError] = useState("");
  const upload = useSingleMutation({
    mutationFn: (d: PolicyDraft) => client.uploadPolicy(d),
    onSuccess: onUploaded,
    onSettled: () => qc.invalidateQueries({ queryKey: policiesKey }),
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const problem = nameProblem(draft.name.trim());
    setNameError(problem);
    if (problem !== "") return;
    upload.mutate({ ...draft, name: draft.name.trim() });
  }

  const result = upload.data;
  return (
    <form className="form form-wide" onSubmit={submit} aria-labelledby="upload-title" noValidate>
      <h2 id="upload-title">Upload a version</h2>
      <p className="hint">
        The server compiles the source with the built-in policy before storing it. A new version is not in effect until you
        activate it.
      </p>
      <div className="filters">
        <label>
          Kind
          <select
            value={draft.kind}
            onChange={(e) => {
              const kind = Number(e.target.value) as PolicyKind;
              const untouched = draft.source === policyTemplate(draft.kind);
              onChange({ ...draft, kind, source: untouched ? policyTemplate(kind) : draft.source });
            }}
          >
            {policyKinds.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label} ({k.pkg})
              </option>
            ))}
          </select>
        </label>
        <Field id="upload-name" label="Policy name" error={nameError}>
          <input
            id="upload-name"
            type="text"
            value={draft.name}
            onChange={(e) => onChange({ ...draft, name: e.target.value })}
            maxLength={63}
            required
            autoComplete="off"
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? "upload-name-help" : undefined}
          />
        </Field>
      </div>
      <Field
        id="upload-source"
        label="Rego source"
        help={`Rego v1. Declare package ${policyKinds.find((k) => k.kind === draft.kind)?.pkg} and add messages to deny.`}
      >
        <textarea
          id="upload-source"
          className="policy-editor"
          value={draft.source}
          onChange={(e) => onChange({ ...draft, source: e.target.value })}
          rows={14}
          spellCheck={false}
          required
          maxLength={65536}
          aria-invalid={upload.isError ? true : undefined}
          aria-describedby={upload.isError ? "upload-source-help upload-error" : "upload-source-help"}
        />
      </Field>
      {upload.isError && <PolicyError error={upload.error} what="Cannot upload the policy" id="upload-error" />}
      {upload.isSuccess && result && (
        <InfoNotice>
          {result.created
            ? `Stored version ${result.version?.version} of ${result.policy?.name}. It is not in effect until you activate it.`
            : `The source equals version ${result.version?.version} of ${result.policy?.name}; nothing new was stored.`}
        </InfoNotice>
      )}
      <div>
        <button type="submit" className="primary" disabled={upload.isPending}>
          {upload.isPending ? "Uploading…" : "Upload version"}
        </button>
      </div>
    </form>
  );
}
