// Pure helpers of the policies page: kinds as people and URLs name them,
// compile problems in words, and the dry-run inputs built from a form.
import { ConnectError } from "@connectrpc/connect";
import { PolicyKind, PolicyProblemsSchema, type PolicyProblem } from "../../gen/ferry/v1/policy_pb";
import { formatJson, parseJson, type JsonValue } from "../../lib/json";

/** The kinds a person can pick, with their URL slug and their name in words. */
export const policyKinds: { kind: PolicyKind; slug: string; label: string; pkg: string }[] = [
  { kind: PolicyKind.AUTHZ, slug: "authz", label: "Authorization", pkg: "ferry.authz.workspace" },
  { kind: PolicyKind.ADMISSION, slug: "admission", label: "Admission", pkg: "ferry.admission.workspace" },
];

/** Returns the kind a URL slug names, or undefined. */
export function parseKind(slug: string | null): PolicyKind | undefined {
  return policyKinds.find((k) => k.slug === slug)?.kind;
}

/** Returns the URL slug of kind ("authz"). */
export function kindSlug(kind: PolicyKind): string {
  return policyKinds.find((k) => k.kind === kind)?.slug ?? "";
}

/** Returns kind in words ("Authorization"). */
export function kindLabel(kind: PolicyKind): string {
  return policyKinds.find((k) => k.kind === kind)?.label ?? "Unknown";
}

/** Returns a starting point for a new policy of kind: the package it must
 * declare and one denial rule. */
export function policyTemplate(kind: PolicyKind): string {
  if (kind === PolicyKind.ADMISSION) {
    return `package ferry.admission.workspace

# Each message added to deny refuses the deployment.
deny contains msg if {
\tinput.spec.container.privileged
\tmsg := sprintf("deployment %s may not run privileged", [input.deployment])
}
`;
  }
  return `package ferry.authz.workspace

# Each message added to deny refuses the call.
deny contains msg if {
\tinput.procedure == "/ferry.v1.WorkPoolService/DeleteWorkPool"
\tinput.subject.role != "owner"
\tmsg := "only owners may delete work pools"
}
`;
}

/** Returns the compile problems an UploadPolicy, ActivatePolicyVersion or
 * DryRunPolicy error carries, or [] when it has none. */
export function policyProblems(err: unknown): PolicyProblem[] {
  if (!(err instanceof ConnectError)) return [];
  return err.findDetails(PolicyProblemsSchema).flatMap((d) => d.problems);
}

/** Formats a problem as "file:line:col: code: message", leaving out the
 * parts the server did not know. */
export function formatProblem(p: Pick<PolicyProblem, "file" | "line" | "column" | "code" | "message">): string {
  let where = p.file;
  if (p.line > 0) {
    where += `:${p.line}`;
    if (p.column > 0) where += `:${p.column}`;
  }
  return [where, p.code, p.message].filter((s) => s !== "").join(": ");
}

/** The fields of the authorization dry-run form. */
export interface AuthzForm {
  procedure: string;
  /** subjectKind is "apikey", "session", "agent" or "anonymous". */
  subjectKind: string;
  role: string;
  resourceType: string;
  resourceName: string;
  deployment: string;
  pool: string;
}

/** The fields of the admission dry-run form; spec is JSON text. */
export interface AdmissionForm {
  deployment: string;
  poolType: string;
  spec: string;
}

const str = (value: string): JsonValue => ({ kind: "string", value });

/** Builds the input of an authorization decision, shaped as the control
 * plane builds it: subject, procedure and the resource's set fields. */
export function authzInput(f: AuthzForm): string {
  const subject: [string, JsonValue][] = [["kind", str(f.subjectKind)]];
  if (f.subjectKind !== "agent" && f.subjectKind !== "anonymous" && f.role !== "") subject.push(["role", str(f.role)]);
  const resource: [string, JsonValue][] = [];
  for (const [key, value] of [
    ["type", f.resourceType],
    ["name", f.resourceName],
    ["deployment", f.deployment],
    ["pool", f.pool],
  ] as const) {
    if (value.trim() !== "") resource.push([key, str(value.trim())]);
  }
  const members: [string, JsonValue][] = [["procedure", str(f.procedure.trim())]];
  if (f.subjectKind !== "anonymous") members.unshift(["subject", { kind: "object", members: subject }]);
  members.push(["resource", { kind: "object", members: resource }]);
  return formatJson({ kind: "object", members });
}

/** Builds the input of an admission decision. The spec is parsed losslessly,
 * so its numbers reach the server as written; a spec that is not a JSON
 * object throws an Error saying so. */
export function admissionInput(f: AdmissionForm): string {
  let spec: JsonValue = { kind: "object", members: [] };
  if (f.spec.trim() !== "") {
    try {
      spec = parseJson(f.spec);
    } catch (err) {
      throw new Error(`The spec is not valid JSON: ${(err as Error).message}.`);
    }
    if (spec.kind !== "object") throw new Error("The spec must be a JSON object, such as {\"image\": \"alpine:3\"}.");
  }
  return formatJson({
    kind: "object",
    members: [
      ["deployment", str(f.deployment.trim())],
      ["pool_type", str(f.poolType)],
      ["spec", spec],
    ],
  });
}
