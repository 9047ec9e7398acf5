import { describe, expect, it } from "vitest";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AuditDecision } from "../../gen/ferry/v1/audit_pb";
import {
  auditFiltersToQuery,
  auditRequest,
  decisionLabel,
  fromLocalInput,
  noFilters,
  parseAuditFilters,
  shortProcedure,
  toLocalInput,
  type AuditFilters,
} from "./audit";

describe("parseAuditFilters", () => {
  const cases: [string, string, AuditFilters][] = [
    ["empty", "", noFilters],
    [
      "every filter",
      "actor=apikey:ab12&procedure=%2Fferry.v1.RunService%2FCreateRun&resource=run%2F1&decision=deny&from=2025-03-07T09:00:00Z&to=2025-03-08T09:00:00.000Z",
      {
        actor: "apikey:ab12",
        procedure: "/ferry.v1.RunService/CreateRun",
        resource: "run/1",
        decision: "deny",
        from: "2025-03-07T09:00:00.000Z",
        to: "2025-03-08T09:00:00.000Z",
      },
    ],
    ["unknown decision dropped", "decision=maybe", noFilters],
    ["bad times dropped", "from=yesterday&to=", noFilters],
    ["spaces trimmed", "actor=%20user%3Aa%40b.test%20", { ...noFilters, actor: "user:a@b.test" }],
  ];
  it.each(cases)("%s", (_, query, want) => {
    expect(parseAuditFilters(new URLSearchParams(query))).toEqual(want);
  });

  it("round-trips through the URL query", () => {
    const f: AuditFilters = { ...noFilters, actor: "apikey:x", decision: "none", to: "2025-01-02T03:04:05.000Z" };
    const q = auditFiltersToQuery(f);
    expect(q.toString()).toBe("actor=apikey%3Ax&decision=none&to=2025-01-02T03%3A04%3A05.000Z");
    expect(parseAuditFilters(q)).toEqual(f);
  });
});

describe("auditRequest", () => {
  it("leaves unset filters empty", () => {
    expect(auditRequest(noFilters)).toEqual({
      actor: "",
      procedure: "",
      resource: "",
      decision: AuditDecision.UNSPECIFIED,
      startTime: undefined,
      endTime: undefined,
    });
  });
  const decisions: [AuditFilters["decision"], AuditDecision][] = [
    ["allow", AuditDecision.ALLOW],
    ["deny", AuditDecision.DENY],
    ["none", AuditDecision.NONE],
  ];
  it.each(decisions)("maps decision %s", (name, want) => {
    expect(auditRequest({ ...noFilters, decision: name }).decision).toBe(want);
  });
  it("converts times to timestamps", () => {
    const r = auditRequest({ ...noFilters, from: "2025-03-07T09:00:00.000Z", to: "2025-03-07T10:30:00.000Z" });
    expect(timestampDate(r.startTime!).toISOString()).toBe("2025-03-07T09:00:00.000Z");
    expect(timestampDate(r.endTime!).toISOString()).toBe("2025-03-07T10:30:00.000Z");
  });
});

describe("decisionLabel", () => {
  const cases: [AuditDecision, string][] = [
    [AuditDecision.ALLOW, "allowed"],
    [AuditDecision.DENY, "denied"],
    [AuditDecision.NONE, "no decision"],
    [AuditDecision.UNSPECIFIED, "unknown"],
  ];
  it.each(cases)("%i reads %s", (d, want) => {
    expect(decisionLabel(d).label).toBe(want);
  });
});

describe("shortProcedure", () => {
  const cases: [string, string][] = [
    ["/ferry.v1.RunService/CreateRun", "RunService/CreateRun"],
    ["/other.v2.Thing/Do", "/other.v2.Thing/Do"],
    ["", ""],
  ];
  it.each(cases)("%j → %j", (p, want) => {
    expect(shortProcedure(p)).toBe(want);
  });
});

describe("local datetime inputs", () => {
  it("round-trip an instant to the minute", () => {
    const iso = new Date(2025, 2, 7, 9, 5).toISOString();
    expect(toLocalInput(iso)).toBe("2025-03-07T09:05");
    expect(fromLocalInput("2025-03-07T09:05")).toBe(iso);
  });
  const bad: string[] = ["", "tomorrow", "2025-03-07"];
  it.each(bad)("refuse %j", (v) => {
    expect(fromLocalInput(v)).toBe("");
  });
  it("keeps an unset filter empty", () => {
    expect(toLocalInput("")).toBe("");
    expect(toLocalInput("garbage")).toBe("");
  });
});
