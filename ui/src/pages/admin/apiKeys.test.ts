import { describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { expiryTtl, keyStatus } from "./apiKeys";

describe("expiryTtl", () => {
  it("leaves an empty field unset", () => {
    expect(expiryTtl(" ")).toEqual({});
  });
  const ok: [string, bigint][] = [
    ["1", 86400n],
    ["30", 2592000n],
    [" 90 ", 7776000n],
    ["3650", 315360000n],
  ];
  it.each(ok)("%j days → %s s", (days, seconds) => {
    expect(expiryTtl(days).ttl?.seconds).toBe(seconds);
    expect(expiryTtl(days).error).toBeUndefined();
  });
  const bad = ["0", "-1", "1.5", "3651", "ten", "1e3"];
  it.each(bad)("refuses %j", (days) => {
    expect(expiryTtl(days).ttl).toBeUndefined();
    expect(expiryTtl(days).error).toMatch(/whole number of days/);
  });
});

describe("keyStatus", () => {
  const now = new Date("2025-03-07T09:00:00Z");
  const at = (iso: string) => timestampFromDate(new Date(iso));
  const cases: [string, Parameters<typeof keyStatus>[0], string][] = [
    ["no expiry", { revokeTime: undefined, expireTime: undefined }, "active"],
    ["expires later", { revokeTime: undefined, expireTime: at("2025-03-08T00:00:00Z") }, "active"],
    ["expired", { revokeTime: undefined, expireTime: at("2025-03-07T09:00:00Z") }, "expired"],
    ["revoked wins", { revokeTime: at("2025-03-01T00:00:00Z"), expireTime: at("2025-03-02T00:00:00Z") }, "revoked"],
  ];
  it.each(cases)("%s", (_, key, want) => {
    expect(keyStatus(key, now)).toBe(want);
  });
});
