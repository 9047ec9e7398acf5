// The "run now" form: a deployment's parameters JSON Schema turned into
// fields, the fields' text checked against the schema, and the parameters
// written as JSON text. Everything here is pure. Numbers stay text from
// input to request: bounds are compared as exact decimals (BigInt), never
// as JS numbers, so 18446744073709551617 is neither rounded nor mistaken
// for 18446744073709551616.
import { formatJson, isJsonNumber, member, parseJson, type JsonValue } from "./json";

/** How a field is edited: a text input (string, integer, number), a select
 * (enum), a checkbox (boolean), or a JSON textarea (anything else). */
export type FieldKind = "string" | "enum" | "integer" | "number" | "boolean" | "json";

/** What a field's input holds: the text typed (for enum, the JSON text of
 * the chosen option; "" means unset), or the checkbox state. */
export type FieldValue = string | boolean;

/** One parameter of the form, read from a property of the schema. */
export interface Field {
  /** name is the parameter's name in the JSON object. */
  name: string;
  kind: FieldKind;
  /** title is the schema's title, or "" when it has none. */
  title: string;
  /** description is the schema's description, shown as a hint. */
  description: string;
  /** required reports whether the schema lists the name in "required". */
  required: boolean;
  /** options are the values of an enum field, in schema order. */
  options: JsonValue[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  /** Numeric bounds, as JSON number literals (exact). */
  minimum?: string;
  maximum?: string;
  exclusiveMinimum?: string;
  exclusiveMaximum?: string;
  multipleOf?: string;
  /** jsonType is the JSON type a json field's value must have ("object",
   * "array", "null"), or "" for any. */
  jsonType: string;
  /** initial is what the input starts with: the deployment's default for
   * the parameter, else the schema's "default", else empty. */
  initial: FieldValue;
  /** deploymentDefault is the deployment's default value as JSON text, ""
   * when it has none; the server merges it in when the field is left out. */
  deploymentDefault: string;
  /** notes say what the server checks that the form does not. */
  notes: string[];
}

/** The form generated from a deployment's parameters schema. */
export interface RunForm {
  fields: Field[];
  /** closed reports whether the schema refuses parameters it does not
   * declare (additionalProperties: false). */
  closed: boolean;
  /** jsonOnly reports whether the parameters can only be edited as JSON;
   * notes say why. */
  jsonOnly: boolean;
  /** notes describe what the form leaves to the server. */
  notes: string[];
  /** defaults is the deployment's default parameters as a JSON object. */
  defaults: JsonValue;
}

/** The outcome of checking the form: the parameters as JSON text when
 * everything passed, else the errors. */
export interface Checked {
  /** json is the parameters object, compact, or null when errors is not empty. */
  json: string | null;
  /** errors maps a field name to what is wrong with it; "" is the form as a whole. */
  errors: Record<string, string>;
}

// Keywords that only annotate and need no checking.
const annotations = new Set(["title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly"]);
// Keywords the form handles at the root of the schema.
const rootKeywords = new Set([...annotations, "$schema", "$id", "$defs", "definitions", "type", "properties", "required", "additionalProperties"]);
// Keywords the form checks itself, by type.
const typeKeywords: Record<string, Set<string>> = {
  string: new Set(["type", "minLength", "maxLength", "pattern", "format"]),
  integer: new Set(["type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]),
  number: new Set(["type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]),
  boolean: new Set(["type"]),
};
const numericKeywords = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] as const;
// The exponent range the server accepts in a number (params.maxExponent).
const maxExponent = 1000;

const empty: JsonValue = { kind: "object", members: [] };

/** Builds the form of a deployment from its parameters_schema and
 * default_parameters (both JSON text, either may be ""). A schema the form
 * cannot show as fields yields a jsonOnly form whose notes say why; a
 * property it cannot show becomes a JSON field with a note. */
export function buildForm(schemaText: string, defaultsText: string): RunForm {
  const notes: string[] = [];
  let defaults = empty;
  if (defaultsText.trim() !== "") {
    try {
      const d = parseJson(defaultsText);
      if (d.kind === "object") defaults = d;
    } catch {
      notes.push("The deployment's default parameters are not valid JSON; the server decides how they apply.");
    }
  }
  const jsonOnly = (why: string): RunForm => ({ fields: [], closed: false, jsonOnly: true, notes: [...notes, why], defaults });
  if (schemaText.trim() === "") return jsonOnly("This deployment has no parameters schema: any JSON object is accepted.");
  let schema: JsonValue;
  try {
    schema = parseJson(schemaText);
  } catch (err) {
    return jsonOnly(`The parameters schema is not valid JSON (${(err as Error).message}); edit the parameters as JSON.`);
  }
  if (schema.kind === "bool") {
    return jsonOnly(schema.value ? "The parameters schema accepts any JSON object." : "The parameters schema accepts no parameters at all.");
  }
  if (schema.kind !== "object") return jsonOnly("The parameters schema is not a JSON object; edit the parameters as JSON.");
  const type = member(schema, "type");
  if (type !== undefined && !(type.kind === "string" && type.value === "object")) {
    return jsonOnly(`The parameters schema's type is ${formatJson(type, 0)}, not "object"; edit the parameters as JSON.`);
  }
  const unknown = schema.members.map(([k]) => k).filter((k) => !rootKeywords.has(k));
  if (unknown.length > 0) {
    return jsonOnly(`The parameters schema uses ${quoteList(unknown)}, which the form cannot show as fields; edit the parameters as JSON (the server checks them).`);
  }

  let closed = false;
  const extra = member(schema, "additionalProperties");
  if (extra?.kind === "bool") closed = !extra.value;
  else if (extra !== undefined) notes.push("Parameters the schema does not name are checked by the server against its additionalProperties; add them with “Edit as JSON”.");

  const required = new Set<string>();
  const req = member(schema, "required");
  if (req?.kind === "array") for (const r of req.items) if (r.kind === "string") required.add(r.value);

  const fields: Field[] = [];
  const props = member(schema, "properties");
  if (props !== undefined && props.kind !== "object") return jsonOnly("The parameters schema's properties are not an object; edit the parameters as JSON.");
  for (const [name, prop] of props?.members ?? []) {
    fields.push(fieldOf(name, prop, required.has(name), member(defaults, name)));
  }
  for (const name of required) {
    if (!fields.some((f) => f.name === name)) fields.push(fieldOf(name, { kind: "bool", value: true }, true, member(defaults, name)));
  }
  return { fields, closed, jsonOnly: false, notes, defaults };
}

/** Reads one property of the schema as a field. */
function fieldOf(name: string, prop: JsonValue, required: boolean, deploymentDefault: JsonValue | undefined): Field {
  const f: Field = {
    name,
    kind: "json",
    title: "",
    description: "",
    required,
    options: [],
    jsonType: "",
    initial: "",
    deploymentDefault: deploymentDefault === undefined ? "" : formatJson(deploymentDefault, 0),
    notes: [],
  };
  if (prop.kind === "bool") {
    if (!prop.value) f.notes.push("The schema allows no value here; the server refuses any.");
    return withInitial(f, deploymentDefault, undefined);
  }
  if (prop.kind !== "object") {
    f.notes.push("Its schema is not an object; the server checks the value.");
    return withInitial(f, deploymentDefault, undefined);
  }
  const str = (k: string) => {
    const v = member(prop, k);
    return v?.kind === "string" ? v.value : "";
  };
  f.title = str("title");
  f.description = str("description");
  const schemaDefault = member(prop, "default");
  const keys = prop.members.map(([k]) => k).filter((k) => !annotations.has(k));
  const type = member(prop, "type");
  const enumValues = member(prop, "enum");
  const constValue = member(prop, "const");

  if (enumValues !== undefined || constValue !== undefined) {
    const other = keys.filter((k) => k !== "enum" && k !== "const" && k !== "type");
    if (enumValues?.kind === "array" && constValue === undefined && other.length === 0) {
      f.kind = "enum";
      f.options = enumValues.items;
    } else if (constValue !== undefined && enumValues === undefined && other.length === 0) {
      f.kind = "enum";
      f.options = [constValue];
    } else {
      f.notes.push(fallbackNote(keys));
    }
    return withInitial(f, deploymentDefault, schemaDefault);
  }
  if (type === undefined) {
    if (keys.length > 0) f.notes.push(fallbackNote(keys));
    return withInitial(f, deploymentDefault, schemaDefault);
  }
  if (type.kind !== "string") {
    f.notes.push(fallbackNote(["type " + formatJson(type, 0)]));
    return withInitial(f, deploymentDefault, schemaDefault);
  }
  const allowed = typeKeywords[type.value];
  if (allowed === undefined) {
    // object, array, null: edited as JSON; their inner rules are the server's.
    f.jsonType = type.value;
    const inner = keys.filter((k) => k !== "type");
    if (inner.length > 0) f.notes.push(`The server checks its ${quoteList(inner)}.`);
    return withInitial(f, deploymentDefault, schemaDefault);
  }
  const unsupported = keys.filter((k) => !allowed.has(k));
  if (unsupported.length > 0) {
    f.notes.push(fallbackNote(unsupported));
    return withInitial(f, deploymentDefault, schemaDefault);
  }
  f.kind = type.value as FieldKind;
  if (f.kind === "string") {
    const count = (k: string): number | undefined => {
      const v = member(prop, k);
      if (v?.kind !== "number" || !isJsonNumber(v.text)) return undefined;
      const n = Number(v.text);
      return Number.isInteger(n) && n >= 0 ? n : undefined;
    };
    f.minLength = count("minLength");
    f.maxLength = count("maxLength");
    const pattern = member(prop, "pattern");
    if (pattern?.kind === "string") {
      if (compiles(pattern.value)) f.pattern = pattern.value;
      else f.notes.push(`The server checks its pattern ${JSON.stringify(pattern.value)}.`);
    }
    const format = member(prop, "format");
    if (format?.kind === "string") f.notes.push(`The server checks that it is a ${format.value}.`);
  }
  if (f.kind === "integer" || f.kind === "number") {
    for (const k of numericKeywords) {
      const v = member(prop, k);
      if (v === undefined) continue;
      if (v.kind === "number" && exponentOK(v.text) && !(k === "multipleOf" && compareDecimal(v.text, "0") <= 0)) f[k] = v.text;
      else f.notes.push(`The server checks its ${k} ${formatJson(v, 0)}.`);
    }
  }
  return withInitial(f, deploymentDefault, schemaDefault);
}

/** Sets the field's starting value from the deployment's default, else the schema's. */
function withInitial(f: Field, deploymentDefault: JsonValue | undefined, schemaDefault: JsonValue | undefined): Field {
  const v = deploymentDefault ?? schemaDefault;
  f.initial = f.kind === "boolean" ? false : "";
  if (v !== undefined) {
    const shown = toFieldValue(f, v);
    if (shown !== undefined) f.initial = shown;
  }
  return f;
}

/** Converts a JSON value to what the field's input shows, or undefined when
 * the input cannot show it (a number in a string field, say). */
export function toFieldValue(f: Field, v: JsonValue): FieldValue | undefined {
  switch (f.kind) {
    case "string":
      return v.kind === "string" ? v.value : undefined;
    case "integer":
    case "number":
      return v.kind === "number" ? v.text : undefined;
    case "boolean":
      return v.kind === "bool" ? v.value : undefined;
    case "enum": {
      const i = f.options.findIndex((o) => jsonEqual(o, v));
      return i < 0 ? undefined : formatJson(f.options[i]!, 0);
    }
    case "json":
      return formatJson(v, 2);
  }
}

/** Returns the starting values of the form's fields, by name. */
export function initialValues(form: RunForm): Record<string, FieldValue> {
  return Object.fromEntries(form.fields.map((f) => [f.name, f.initial]));
}

/** Reads a field's input as a JSON value: undefined when it is left empty,
 * or a message saying why the text is not a value of the field's kind. */
export function readField(f: Field, input: FieldValue): JsonValue | undefined | string {
  if (typeof input === "boolean") return { kind: "bool", value: input };
  switch (f.kind) {
    case "boolean":
      return { kind: "bool", value: input === "true" };
    case "string":
      return input === "" ? undefined : { kind: "string", value: input };
    case "integer":
    case "number": {
      const t = input.trim();
      if (t === "") return undefined;
      if (!isJsonNumber(t)) return f.kind === "integer" ? "Enter a whole number, such as 42." : "Enter a number, such as 42 or 0.5.";
      return { kind: "number", text: t };
    }
    case "enum":
    case "json":
      if (input.trim() === "") return undefined;
      try {
        return parseJson(input);
      } catch (err) {
        return `Not valid JSON: ${(err as Error).message}.`;
      }
  }
}

/** Checks a value against the field's schema; returns "" when it passes,
 * else what is wrong, in words. */
export function checkValue(f: Field, v: JsonValue): string {
  switch (f.kind) {
    case "string": {
      if (v.kind !== "string") return "Must be text.";
      const length = [...v.value].length;
      if (f.minLength !== undefined && length < f.minLength) return `Must be at least ${plural(f.minLength, "character")} long.`;
      if (f.maxLength !== undefined && length > f.maxLength) return `Must be at most ${plural(f.maxLength, "character")} long (it has ${length}).`;
      if (f.pattern !== undefined && !new RegExp(f.pattern, "u").test(v.value)) return `Must match the pattern ${f.pattern}.`;
      return "";
    }
    case "integer":
    case "number": {
      if (v.kind !== "number") return f.kind === "integer" ? "Must be a whole number." : "Must be a number.";
      if (!exponentOK(v.text)) return `The exponent must be between -${maxExponent} and ${maxExponent}.`;
      if (f.kind === "integer" && !isIntegerDecimal(v.text)) return "Must be a whole number.";
      if (f.minimum !== undefined && compareDecimal(v.text, f.minimum) < 0) return `Must be at least ${f.minimum}.`;
      if (f.maximum !== undefined && compareDecimal(v.text, f.maximum) > 0) return `Must be at most ${f.maximum}.`;
      if (f.exclusiveMinimum !== undefined && compareDecimal(v.text, f.exclusiveMinimum) <= 0) return `Must be greater than ${f.exclusiveMinimum}.`;
      if (f.exclusiveMaximum !== undefined && compareDecimal(v.text, f.exclusiveMaximum) >= 0) return `Must be less than ${f.exclusiveMaximum}.`;
      if (f.multipleOf !== undefined && !isMultipleOf(v.text, f.multipleOf)) return `Must be a multiple of ${f.multipleOf}.`;
      return "";
    }
    case "boolean":
      return v.kind === "bool" ? "" : "Must be true or false.";
    case "enum":
      if (f.options.some((o) => jsonEqual(o, v))) return "";
      return `Must be one of ${f.options.map((o) => formatJson(o, 0)).join(", ")}.`;
    case "json": {
      if (f.jsonType === "") return "";
      const kind = v.kind === "bool" ? "boolean" : v.kind;
      return kind === f.jsonType ? "" : `Must be a JSON ${f.jsonType}.`;
    }
  }
}

/** Checks one field's input: read it, then check it, then the required rule. */
function checkField(f: Field, input: FieldValue): { value?: JsonValue; error: string } {
  const v = readField(f, input);
  if (typeof v === "string") return { error: v };
  if (v === undefined) {
    if (f.required && f.deploymentDefault === "") return { error: "Required: enter a value." };
    return { error: "" };
  }
  return { value: v, error: checkValue(f, v) };
}

/** Checks the form's inputs and, when they all pass, writes the parameters
 * object. Empty inputs are left out (the server merges the deployment's
 * defaults under what is sent); checkboxes are always sent. */
export function checkValues(form: RunForm, values: Record<string, FieldValue>): Checked {
  const errors: Record<string, string> = {};
  const members: [string, JsonValue][] = [];
  for (const f of form.fields) {
    const { value, error } = checkField(f, values[f.name] ?? f.initial);
    if (error !== "") errors[f.name] = error;
    else if (value !== undefined) members.push([f.name, value]);
  }
  if (Object.keys(errors).length > 0) return { json: null, errors };
  return { json: formatJson({ kind: "object", members }, 0), errors };
}

/** Checks parameters typed as JSON text against the form's schema and
 * returns them compact. Errors name the parameter; "" is the text as a whole. */
export function checkJsonText(form: RunForm, text: string): Checked {
  const errors: Record<string, string> = {};
  let v: JsonValue;
  try {
    v = parseJson(text.trim() === "" ? "{}" : text);
  } catch (err) {
    return { json: null, errors: { "": `Not valid JSON: ${(err as Error).message}.` } };
  }
  if (v.kind !== "object") return { json: null, errors: { "": "The parameters must be a JSON object, such as {\"name\": \"value\"}." } };
  const seen = new Set<string>();
  for (const [name, value] of v.members) {
    if (seen.has(name)) {
      errors[name] = "Appears more than once.";
      continue;
    }
    seen.add(name);
    const f = form.fields.find((x) => x.name === name);
    if (f === undefined) {
      if (form.closed) errors[name] = `Not a parameter of this deployment; it takes ${form.fields.map((x) => x.name).join(", ") || "none"}.`;
      continue;
    }
    const problem = checkValue(f, value);
    if (problem !== "") errors[name] = problem;
  }
  for (const f of form.fields) {
    if (f.required && f.deploymentDefault === "" && !seen.has(f.name)) errors[f.name] = "Required: add it.";
  }
  if (Object.keys(errors).length > 0) return { json: null, errors };
  return { json: formatJson(v, 0), errors };
}

/** Writes the form's inputs as pretty JSON text for the JSON editor. Text
 * that is not yet a valid value is kept as a JSON string so nothing typed is
 * lost; the JSON check then says what is wrong with it. */
export function valuesToJsonText(form: RunForm, values: Record<string, FieldValue>): string {
  const members: [string, JsonValue][] = [];
  for (const f of form.fields) {
    const input = values[f.name] ?? f.initial;
    const v = readField(f, input);
    if (v === undefined) continue;
    members.push([f.name, typeof v === "string" ? { kind: "string", value: String(input) } : v]);
  }
  return formatJson({ kind: "object", members }, 2);
}

/** Reads JSON text back into the form's inputs. It fails (with a message)
 * when the text does not parse or holds something a field cannot show, so
 * switching back to fields never drops what was typed. */
export function jsonTextToValues(form: RunForm, text: string): { values?: Record<string, FieldValue>; error: string } {
  let v: JsonValue;
  try {
    v = parseJson(text.trim() === "" ? "{}" : text);
  } catch (err) {
    return { error: `Not valid JSON: ${(err as Error).message}.` };
  }
  if (v.kind !== "object") return { error: "The parameters must be a JSON object." };
  const values: Record<string, FieldValue> = {};
  for (const f of form.fields) values[f.name] = f.kind === "boolean" ? false : "";
  for (const [name, value] of v.members) {
    const f = form.fields.find((x) => x.name === name);
    if (f === undefined) return { error: `“${name}” has no field in the form; keep editing as JSON.` };
    const shown = toFieldValue(f, value);
    if (shown === undefined) return { error: `The value of “${name}” cannot be shown in its field (${checkValue(f, value) || "wrong type"}); fix it here first.` };
    values[name] = shown;
  }
  return { values, error: "" };
}

// ---- exact decimals ----

/** An exact decimal: m × 10^e. */
interface Decimal {
  m: bigint;
  e: number;
}

const decimalRE = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Reports whether a JSON number literal's exponent is within the server's range. */
export function exponentOK(text: string): boolean {
  const m = decimalRE.exec(text);
  if (m === null) return false;
  return m[4] === undefined || Math.abs(Number(m[4])) <= maxExponent;
}

function decimal(text: string): Decimal {
  const m = decimalRE.exec(text);
  if (m === null || !exponentOK(text)) throw new Error(`not a JSON number in range: ${text}`);
  const frac = m[3] ?? "";
  const digits = BigInt(m[2]! + frac);
  return { m: m[1] === "-" ? -digits : digits, e: Number(m[4] ?? "0") - frac.length };
}

/** Brings two decimals to the same exponent and returns their mantissas. */
function aligned(a: Decimal, b: Decimal): [bigint, bigint] {
  const e = Math.min(a.e, b.e);
  return [a.m * 10n ** BigInt(a.e - e), b.m * 10n ** BigInt(b.e - e)];
}

/** Compares two JSON number literals exactly: -1, 0 or 1. */
export function compareDecimal(a: string, b: string): number {
  const [x, y] = aligned(decimal(a), decimal(b));
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Reports whether a JSON number literal is a whole number (3, 3.0, 1e3). */
export function isIntegerDecimal(text: string): boolean {
  const d = decimal(text);
  return d.e >= 0 || d.m % 10n ** BigInt(-d.e) === 0n;
}

/** Reports whether the JSON number a is an exact multiple of the positive number b. */
export function isMultipleOf(a: string, b: string): boolean {
  const [x, y] = aligned(decimal(a), decimal(b));
  return y !== 0n && x % y === 0n;
}

/** Reports whether two JSON values are equal as JSON Schema compares them:
 * numbers by value, objects regardless of member order. */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  switch (a.kind) {
    case "null":
      return b.kind === "null";
    case "bool":
      return b.kind === "bool" && a.value === b.value;
    case "string":
      return b.kind === "string" && a.value === b.value;
    case "number":
      return b.kind === "number" && exponentOK(a.text) && exponentOK(b.text) && compareDecimal(a.text, b.text) === 0;
    case "array":
      return b.kind === "array" && a.items.length === b.items.length && a.items.every((x, i) => jsonEqual(x, b.items[i]!));
    case "object":
      return (
        b.kind === "object" &&
        a.members.length === b.members.length &&
        a.members.every(([k, x]) => {
          const y = member(b, k);
          return y !== undefined && jsonEqual(x, y);
        })
      );
  }
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

function fallbackNote(keys: string[]): string {
  return `Its schema uses ${quoteList(keys)}, which the form cannot show as a field; enter the value as JSON (the server checks it).`;
}

function quoteList(keys: string[]): string {
  return keys.map((k) => `“${k}”`).join(", ");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
