// A deployment spec as pretty JSON text for reading and diffing: the
// protobuf JSON form (int64 as strings, so nothing is rounded), with the
// JSON text fields (schema, defaults, job variables) expanded in place by
// the lossless parser so their numbers keep every digit.
import { toJson, type JsonValue as PlainJson } from "@bufbuild/protobuf";
import { DeploymentSpecSchema, type DeploymentSpec } from "../../gen/ferry/v1/deployment_pb";
import { formatJson, parseJson, type JsonValue } from "../../lib/json";

// Fields of DeploymentSpec that hold JSON text, by their JSON name.
const jsonTextFields = new Set(["parametersSchema", "defaultParameters", "jobVariables"]);

/** Converts a protobuf JSON value (no numbers beyond int32 and double) to a
 * lossless JSON tree. */
function fromPlain(v: PlainJson): JsonValue {
  if (v === null) return { kind: "null" };
  if (typeof v === "boolean") return { kind: "bool", value: v };
  if (typeof v === "number") return { kind: "number", text: String(v) };
  if (typeof v === "string") return { kind: "string", value: v };
  if (Array.isArray(v)) return { kind: "array", items: v.map(fromPlain) };
  return { kind: "object", members: Object.entries(v).map(([k, x]) => [k, fromPlain(x)]) };
}

/** Returns the spec as pretty JSON text, fields in proto order, JSON text
 * fields expanded (left as strings when they do not parse). */
export function specText(spec: DeploymentSpec | undefined): string {
  if (spec === undefined) return "";
  const plain = toJson(DeploymentSpecSchema, spec) as Record<string, PlainJson>;
  const members: [string, JsonValue][] = Object.entries(plain).map(([k, v]) => {
    if (jsonTextFields.has(k) && typeof v === "string") {
      try {
        return [k, parseJson(v)];
      } catch {
        return [k, fromPlain(v)];
      }
    }
    return [k, fromPlain(v)];
  });
  return formatJson({ kind: "object", members }, 2);
}
