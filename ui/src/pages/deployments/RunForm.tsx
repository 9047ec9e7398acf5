import { Fragment, useId, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { Code, ConnectError } from "@connectrpc/connect";
import { useClient } from "../../api/clients";
import type { Deployment } from "../../gen/ferry/v1/deployment_pb";
import { RunService } from "../../gen/ferry/v1/run_pb";
import { ErrorNotice } from "../../components/Notice";
import { formatJson } from "../../lib/json";
import { showUntrusted } from "../../lib/bidi";
import {
  buildForm,
  checkJsonText,
  checkValues,
  initialValues,
  jsonTextToValues,
  valuesToJsonText,
  type Field,
  type FieldValue,
} from "../../lib/schema";
import { useSingleMutation } from "../../lib/action";

/** The field a server-side parameter error names: `parameter "big": ...`
 * names big; `parameter "opts.depth": ...` names opts. */
export function fieldOfServerError(err: unknown, fields: Field[]): string {
  if (!(err instanceof ConnectError) || err.code !== Code.InvalidArgument) return "";
  const m = /parameter "([^"]+)"/.exec(err.rawMessage);
  if (m === null) return "";
  const path = m[1]!;
  const exact = fields.find((f) => f.name === path);
  if (exact) return exact.name;
  return fields.find((f) => path.startsWith(f.name + ".") || path.startsWith(f.name + "["))?.name ?? "";
}

/** The "run now" form of a deployment: fields generated from its parameters
 * schema (or a JSON editor), checked before anything is sent. */
export function RunForm({ deployment }: { deployment: Deployment }) {
  const runs = useClient(RunService);
  const navigate = useNavigate();
  const qc = useQueryClient();
  const id = useId();
  const spec = deployment.spec;
  const form = useMemo(() => buildForm(spec?.parametersSchema ?? "", spec?.defaultParameters ?? ""), [spec]);
  const [asJson, setAsJson] = useState(form.jsonOnly);
  const [values, setValues] = useState<Record<string, FieldValue>>(() => initialValues(form));
  const [jsonText, setJsonText] = useState(() => (form.jsonOnly ? "{}" : valuesToJsonText(form, initialValues(form))));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [switchError, setSwitchError] = useState("");
  const formRef = useRef<HTMLFormElement>(null);

  const create = useSingleMutation({
    mutationFn: (parameters: string) => runs.createRun({ run: { deployment: deployment.name, parameters } }),
    onSuccess: (res) => {
      void qc.invalidateQueries({ queryKey: ["runs"] });
      if (res.run) navigate(`/runs/${res.run.id}`);
    },
  });
  const serverField = create.isError ? fieldOfServerError(create.error, form.fields) : "";

  function submit(e: FormEvent) {
    e.preventDefault();
    create.reset();
    const checked = asJson ? checkJsonText(form, jsonText) : checkValues(form, values);
    setErrors(checked.errors);
    if (checked.json === null) {
      // Take the person to the first problem.
      requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    create.mutate(checked.json);
  }

  function toggle() {
    setSwitchError("");
    if (asJson) {
      const back = jsonTextToValues(form, jsonText);
      if (back.values === undefined) {
        setSwitchError(back.error);
        return;
      }
      setValues(back.values);
    } else {
      setJsonText(valuesToJsonText(form, values));
    }
    setErrors({});
    setAsJson(!asJson);
  }

  const jsonErrors = Object.entries(errors);
  const defaultsText = formatJson(form.defaults, 0);
  return (
    <form ref={formRef} className="form run-form" onSubmit={submit} noValidate aria-label={showUntrusted(`Run ${deployment.name} now`)}>
      {form.notes.map((n) => (
        <p key={n} className="hint">
          {showUntrusted(n)}
        </p>
      ))}
      {asJson ? (
        <div className="field">
          <label htmlFor={`${id}-json`}>Parameters (JSON object)</label>
          <textarea
            id={`${id}-json`}
            rows={Math.min(20, Math.max(6, jsonText.split("\n").length + 1))}
            spellCheck={false}
            value={jsonText}
            onChange={(e) => setJsonText(e.target.value)}
            aria-invalid={jsonErrors.length > 0}
            aria-describedby={`${id}-json-hint ${id}-json-errors`}
          />
          <span id={`${id}-json-hint`} className="hint">
            {form.closed ? showUntrusted(`Parameters: ${form.fields.map((f) => f.name).join(", ")}. `) : ""}
            {defaultsText !== "{}" && <>The deployment's defaults {showUntrusted(defaultsText)} are merged under what you send.</>}
          </span>
          <div id={`${id}-json-errors`} className="field-error">
            {jsonErrors.length > 0 && (
              <ul>
                {jsonErrors.map(([name, msg]) => (
                  <li key={name}>{showUntrusted(name === "" ? msg : `${name}: ${msg}`)}</li>
                ))}
              </ul>
            )}
          </div>
        </div>
      ) : (
        form.fields.map((f, i) => (
          <FieldInput
            key={f.name}
            id={`${id}-f${i}`}
            field={f}
            value={values[f.name] ?? f.initial}
            error={errors[f.name] ?? (serverField === f.name ? "The server refused this value; see the message below." : "")}
            onChange={(v) => setValues((old) => ({ ...old, [f.name]: v }))}
          />
        ))
      )}
      {!asJson && form.fields.length === 0 && <p className="hint">This deployment takes no parameters.</p>}
      {switchError && (
        <p className="field-error" role="alert">
          {switchError}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? "Starting…" : "Run now"}
        </button>
        {!form.jsonOnly && (
          <button type="button" onClick={toggle} aria-pressed={asJson}>
            {asJson ? "Edit as fields" : "Edit as JSON"}
          </button>
        )}
      </div>
      {create.isError && <ErrorNotice error={create.error} what="The run was not created" />}
    </form>
  );
}

/** One generated input with its label, hint and error. */
function FieldInput({ id, field: f, value, error, onChange }: { id: string; field: Field; value: FieldValue; error: string; onChange: (v: FieldValue) => void }) {
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const hintParts: ReactNode[] = [
    f.description,
    constraints(f),
    f.deploymentDefault && `Left empty, the deployment's default ${f.deploymentDefault} applies.`,
    ...f.notes,
  ].filter((p) => p !== "" && p !== null && p !== undefined && p !== false);
  const hint =
    hintParts.length === 0
      ? null
      : hintParts.map((p, i) => (
          <Fragment key={i}>
            {i > 0 && " "}
            {typeof p === "string" ? showUntrusted(p) : p}
          </Fragment>
        ));
  const common = {
    id,
    "aria-invalid": error !== "",
    "aria-describedby": `${hint ? hintId : ""} ${error ? errorId : ""}`.trim() || undefined,
    "aria-required": f.required && f.deploymentDefault === "",
  };
  const label = (
    <>
      {showUntrusted(f.title || f.name)}
      {f.title && <span className="hint mono"> {showUntrusted(f.name)}</span>}
      {f.required && <span className="hint"> (required)</span>}
    </>
  );
  let input;
  switch (f.kind) {
    case "boolean":
      return (
        <div className="field">
          <label className="check" htmlFor={id}>
            <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(e.target.checked)} />
            {label}
          </label>
          {hint && <span id={hintId} className="hint">{hint}</span>}
          {error && <span id={errorId} className="field-error">{showUntrusted(error)}</span>}
        </div>
      );
    case "enum":
      input = (
        <select {...common} value={String(value)} onChange={(e) => onChange(e.target.value)}>
          <option value="">{f.deploymentDefault ? "(deployment default)" : "(not set)"}</option>
          {f.options.map((o) => {
            const text = formatJson(o, 0);
            return (
              <option key={text} value={text}>
                {showUntrusted(o.kind === "string" ? o.value : text)}
              </option>
            );
          })}
        </select>
      );
      break;
    case "json":
      input = <textarea {...common} rows={4} spellCheck={false} value={String(value)} onChange={(e) => onChange(e.target.value)} />;
      break;
    default:
      input = (
        <input
          type="text"
          {...common}
          inputMode={f.kind === "string" ? undefined : f.kind === "integer" ? "numeric" : "decimal"}
          autoComplete="off"
          spellCheck={f.kind === "string"}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      );
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {input}
      {hint && <span id={hintId} className="hint">{hint}</span>}
      {error && <span id={errorId} className="field-error">{showUntrusted(error)}</span>}
    </div>
  );
}

/** Returns n and the noun, plural unless n is 1, such as "1 character" or "3 characters". */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Describes a field's limits in words, such as "A whole number, ≥ 1, ≤ 500.",
 * with a pattern shown as code; null when the field has none. */
function constraints(f: Field): ReactNode {
  const parts: ReactNode[] = [];
  if (f.kind === "integer") parts.push("A whole number");
  if (f.kind === "number") parts.push("A number");
  if (f.minimum !== undefined) parts.push(`≥ ${f.minimum}`);
  if (f.exclusiveMinimum !== undefined) parts.push(`> ${f.exclusiveMinimum}`);
  if (f.maximum !== undefined) parts.push(`≤ ${f.maximum}`);
  if (f.exclusiveMaximum !== undefined) parts.push(`< ${f.exclusiveMaximum}`);
  if (f.multipleOf !== undefined) parts.push(`multiple of ${f.multipleOf}`);
  if (f.minLength !== undefined) parts.push(`at least ${counted(f.minLength, "character")}`);
  if (f.maxLength !== undefined) parts.push(`at most ${counted(f.maxLength, "character")}`);
  if (f.pattern !== undefined) {
    parts.push(
      <>
        matching the pattern ‹<code>{showUntrusted(f.pattern)}</code>›
      </>,
    );
  }
  if (f.kind === "json") parts.push(f.jsonType ? `A JSON ${f.jsonType}` : "Any JSON value");
  if (parts.length === 0) return null;
  const list = parts.map((p, i) => (
    <Fragment key={i}>
      {i > 0 && ", "}
      {p}
    </Fragment>
  ));
  return f.kind === "string" ? <>Text, {list}.</> : <>{list}.</>;
}
