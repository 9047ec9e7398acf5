import { describe, expect, it } from "vitest";
import { grantableRoles, nameProblem } from "./roles";

describe("grantableRoles", () => {
  const cases: [string | undefined, string[]][] = [
    ["owner", ["viewer", "operator", "developer", "admin", "owner"]],
    ["admin", ["viewer", "operator", "developer", "admin"]],
    ["developer", ["viewer", "operator", "developer"]],
    ["operator", ["viewer", "operator"]],
    ["viewer", ["viewer"]],
    ["", []],
    ["root", []],
    [undefined, []],
  ];
  it.each(cases)("a %s may grant %j", (role, want) => {
    expect(grantableRoles(role)).toEqual(want);
  });
});

describe("nameProblem", () => {
  const cases: [string, string][] = [
    ["ci-deploy", ""],
    ["a", ""],
    ["k8s-2", ""],
    ["a".repeat(63), ""],
    ["", "Enter a name."],
    ["a".repeat(64), "At most 63 characters."],
    ["2fast", "Start with a lower-case letter."],
    ["Deploy", "Start with a lower-case letter."],
    ["ci-", "Do not end with '-'."],
    ["ci_deploy", "Use only lower-case letters, digits and '-'."],
    ["ci deploy", "Use only lower-case letters, digits and '-'."],
  ];
  it.each(cases)("%j → %j", (name, want) => {
    expect(nameProblem(name)).toBe(want);
  });
});
