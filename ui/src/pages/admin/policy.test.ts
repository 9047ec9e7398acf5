import { describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { PolicyKind, PolicyProblemsSchema } from "../../gen/ferry/v1/policy_pb";
import {
  admissionInput,
  authzInput,
  formatProblem,
  kindLabel,
  kindSlug,
  parseKind,
  policyProblems,
  policyTemplate,
  type AuthzForm,
} from "./policy";

describe("kinds", () => {
  it("parse and name slugs", () => {
    expect(parseKind("authz")).toBe(PolicyKind.AUTHZ);
    expect(parseKind("admission")).toBe(PolicyKind.ADMISSION);
    expect(parseKind("other")).toBeUndefined();
    expect(parseKind(null)).toBeUndefined();
    expect(kindSlug(PolicyKind.ADMISSION)).toBe("admission");
    expect(kindLabel(PolicyKind.AUTHZ)).toBe("Authorization");
    expect(kindLabel(PolicyKind.UNSPECIFIED)).toBe("Unknown");
  });
  it("templates declare the workspace package", () => {
    expect(policyTemplate(PolicyKind.AUTHZ)).toMatch(/^package ferry\.authz\.workspace\n/);
    expect(policyTemplate(PolicyKind.ADMISSION)).toMatch(/^package ferry\.admission\.workspace\n/);
  });
});

describe("formatProblem", () => {
  const base = { file: "workspace/friday.rego", line: 5, column: 1, code: "rego_parse_error", message: "unexpected eof token" };
  const cases: [string, typeof base, string][] = [
    ["full", base, "workspace/friday.rego:5:1: rego_parse_error: unexpected eof token"],
    ["no column", { ...base, column: 0 }, "workspace/friday.rego:5: rego_parse_error: unexpected eof token"],
    ["no position", { ...base, line: 0, column: 0 }, "workspace/friday.rego: rego_parse_error: unexpected eof token"],
    ["no code", { ...base, code: "" }, "workspace/friday.rego:5:1: unexpected eof token"],
  ];
  it.each(cases)("%s", (_, p, want) => {
    expect(formatProblem(p)).toBe(want);
  });
});

describe("policyProblems", () => {
  it("reads the PolicyProblems detail", () => {
    const detail = create(PolicyProblemsSchema, {
      problems: [{ file: "workspace/x.rego", line: 3, column: 6, code: "ferry_policy_error", message: "http.send may not be called" }],
    });
    const err = new ConnectError("workspace/x.rego:3:6: ferry_policy_error: http.send may not be called", Code.InvalidArgument, undefined, [
      { desc: PolicyProblemsSchema, value: detail },
    ]);
    expect(policyProblems(err).map(formatProblem)).toEqual(["workspace/x.rego:3:6: ferry_policy_error: http.send may not be called"]);
  });
  it("reads a detail sent over the wire", () => {
    const detail = create(PolicyProblemsSchema, { problems: [{ file: "f.rego", line: 1, column: 2, message: "m" }] });
    const err = new ConnectError("bad", Code.InvalidArgument);
    err.details = [{ type: "ferry.v1.PolicyProblems", value: toBinary(PolicyProblemsSchema, detail) }];
    expect(policyProblems(err).map(formatProblem)).toEqual(["f.rego:1:2: m"]);
  });
  it("is empty for other errors", () => {
    expect(policyProblems(new ConnectError("no", Code.PermissionDenied))).toEqual([]);
    expect(policyProblems(new Error("plain"))).toEqual([]);
  });
});

describe("authzInput", () => {
  const form: AuthzForm = {
    procedure: " /ferry.v1.RunService/CreateRun ",
    subjectKind: "apikey",
    role: "viewer",
    resourceType: "run",
    resourceName: "",
    deployment: "etl",
    pool: "",
  };
  it("builds subject, procedure and the set resource fields", () => {
    expect(JSON.parse(authzInput(form))).toEqual({
      subject: { kind: "apikey", role: "viewer" },
      procedure: "/ferry.v1.RunService/CreateRun",
      resource: { type: "run", deployment: "etl" },
    });
  });
  it("gives agents no role and anonymous callers no subject", () => {
    expect(JSON.parse(authzInput({ ...form, subjectKind: "agent" })).subject).toEqual({ kind: "agent" });
    expect(JSON.parse(authzInput({ ...form, subjectKind: "anonymous" })).subject).toBeUndefined();
  });
});

describe("admissionInput", () => {
  it("keeps the spec's numbers exactly", () => {
    const text = admissionInput({ deployment: "etl", poolType: "docker", spec: '{"container": {"memory_bytes": 90071992547409930}}' });
    expect(text).toContain("90071992547409930");
    expect(text).toMatch(/^\{\n {2}"deployment": "etl",\n {2}"pool_type": "docker",/);
  });
  it("takes an empty spec as {}", () => {
    expect(JSON.parse(admissionInput({ deployment: "d", poolType: "process", spec: " " }))).toEqual({ deployment: "d", pool_type: "process", spec: {} });
  });
  const bad: [string, RegExp][] = [
    ["{", /not valid JSON/],
    ["[1]", /must be a JSON object/],
  ];
  it.each(bad)("refuses spec %j", (spec, want) => {
    expect(() => admissionInput({ deployment: "d", poolType: "docker", spec })).toThrow(want);
  });
});
