// Pure helpers of the API keys page.
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { APIKey } from "../../gen/ferry/v1/identity_pb";
import { toDate } from "../../lib/time";

/** The longest expiry the form offers, in days (ten years). */
export const maxExpiryDays = 3650;

/** Reads the form's "expires in days" field: an unset expiry for "", a
 * duration for a whole number of days from 1 to maxExpiryDays, otherwise a
 * message saying what to enter. */
export function expiryTtl(days: string): { ttl?: Duration; error?: string } {
  const t = days.trim();
  if (t === "") return {};
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > maxExpiryDays) {
    return { error: `Enter a whole number of days from 1 to ${maxExpiryDays}, or leave it empty for a key that does not expire.` };
  }
  return { ttl: { $typeName: "google.protobuf.Duration", seconds: BigInt(t) * 86400n, nanos: 0 } };
}

/** Returns a key's state in words: "revoked", "expired" or "active". */
export function keyStatus(k: Pick<APIKey, "revokeTime" | "expireTime">, now: Date = new Date()): "revoked" | "expired" | "active" {
  if (k.revokeTime !== undefined) return "revoked";
  const exp = toDate(k.expireTime);
  if (exp !== undefined && exp.getTime() <= now.getTime()) return "expired";
  return "active";
}
