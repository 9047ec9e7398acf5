import { describe, expect, it } from "vitest";
import { parseJson } from "./json";
import {
  buildForm,
  checkJsonText,
  checkValue,
  checkValues,
  compareDecimal,
  initialValues,
  isIntegerDecimal,
  isMultipleOf,
  jsonEqual,
  jsonTextToValues,
  valuesToJsonText,
  type Field,
  type FieldValue,
} from "./schema";

// The schema of the browser tests' "counter" deployment (ui/e2e/ferry.e2e.yaml).
const counter = JSON.stringify({
  type: "object",
  additionalProperties: false,
  required: ["lines"],
  properties: {
    lines: { type: "integer", minimum: 1, maximum: 500, description: "How many lines to print." },
    pause: { type: "string", enum: ["0", "0.1", "0.5", "1"], default: "0.1", description: "Seconds between lines." },
    big: { type: "integer", default: 0, description: "An integer beyond 2^53." },
    label: { type: "string", maxLength: 40, description: "A free-text label." },
  },
}).replace('"default":0', '"default":9007199254740993');

/** field builds the form of a one-property schema and returns its field. */
function field(prop: string, opts: { required?: boolean; defaults?: string } = {}): Field {
  const schema = `{"type":"object","properties":{"p":${prop}}${opts.required ? ',"required":["p"]' : ""}}`;
  const form = buildForm(schema, opts.defaults ?? "");
  expect(form.jsonOnly).toBe(false);
  return form.fields[0]!;
}

describe("exact decimals", () => {
  it.each([
    ["1", "2", -1],
    ["2", "1", 1],
    ["1", "1.0", 0],
    ["1e3", "1000", 0],
    ["-5", "-4", -1],
    ["0.1", "0.10", 0],
    ["18446744073709551617", "18446744073709551616", 1],
    ["9007199254740993", "9007199254740992", 1],
    ["-9223372036854775809", "-9223372036854775808", -1],
    ["1.5e-1", "0.15", 0],
    ["123456789012345678901234567890.5", "123456789012345678901234567890.4", 1],
    ["0", "-0", 0],
  ])("compare %s with %s", (a, b, want) => {
    expect(compareDecimal(a, b)).toBe(want);
  });

  it.each([
    ["3", true],
    ["3.0", true],
    ["3.5", false],
    ["1e3", true],
    ["1.5e1", true],
    ["1.55e1", false],
    ["-0", true],
    ["18446744073709551617", true],
    ["18446744073709551617.000", true],
    ["18446744073709551617.001", false],
    ["25e-1", false],
    ["20e-1", true],
  ])("isIntegerDecimal(%s)", (text, want) => {
    expect(isIntegerDecimal(text)).toBe(want);
  });

  it.each([
    ["10", "5", true],
    ["10", "3", false],
    ["0.3", "0.1", true],
    ["0.35", "0.1", false],
    ["18446744073709551616", "2", true],
    ["18446744073709551617", "2", false],
    ["-9", "3", true],
    ["0", "7", true],
  ])("isMultipleOf(%s, %s)", (a, b, want) => {
    expect(isMultipleOf(a, b)).toBe(want);
  });
});

describe("jsonEqual", () => {
  it.each([
    ["1", "1.0", true],
    ["1", "2", false],
    ['"a"', '"a"', true],
    ['"1"', "1", false],
    ['{"a":1,"b":2}', '{"b":2,"a":1}', true],
    ['{"a":1}', '{"a":1,"b":2}', false],
    ["[1,2]", "[1,2]", true],
    ["[1,2]", "[2,1]", false],
    ["null", "null", true],
    ["true", "false", false],
    ["18446744073709551617", "18446744073709551616", false],
  ])("%s = %s", (a, b, want) => {
    expect(jsonEqual(parseJson(a), parseJson(b))).toBe(want);
  });
});

describe("buildForm", () => {
  it("reads the counter deployment's schema into fields", () => {
    const form = buildForm(counter, '{"lines": 5}');
    expect(form.jsonOnly).toBe(false);
    expect(form.closed).toBe(true);
    expect(form.notes).toEqual([]);
    const byName = Object.fromEntries(form.fields.map((f) => [f.name, f]));
    expect(form.fields.map((f) => f.name)).toEqual(["lines", "pause", "big", "label"]);
    expect(byName.lines).toMatchObject({ kind: "integer", required: true, minimum: "1", maximum: "500", initial: "5", deploymentDefault: "5", description: "How many lines to print." });
    expect(byName.pause).toMatchObject({ kind: "enum", required: false, initial: '"0.1"', deploymentDefault: "" });
    expect(byName.pause!.options.map((o) => (o.kind === "string" ? o.value : ""))).toEqual(["0", "0.1", "0.5", "1"]);
    // The schema default keeps every digit.
    expect(byName.big).toMatchObject({ kind: "integer", initial: "9007199254740993" });
    expect(byName.label).toMatchObject({ kind: "string", maxLength: 40, initial: "" });
  });

  const jsonOnly: { name: string; schema: string; note: RegExp }[] = [
    { name: "no schema", schema: "", note: /no parameters schema/ },
    { name: "schema true", schema: "true", note: /any JSON object/ },
    { name: "schema false", schema: "false", note: /no parameters/ },
    { name: "not JSON", schema: "{nope", note: /not valid JSON/ },
    { name: "not an object", schema: "[1]", note: /not a JSON object/ },
    { name: "root type array", schema: '{"type":"array"}', note: /type is "array"/ },
    { name: "oneOf at the root", schema: '{"type":"object","oneOf":[{"required":["a"]},{"required":["b"]}]}', note: /“oneOf”/ },
    { name: "$ref at the root", schema: '{"$ref":"#/$defs/p","$defs":{"p":{"type":"object"}}}', note: /“\$ref”/ },
    { name: "patternProperties", schema: '{"type":"object","patternProperties":{"^x":{}}}', note: /“patternProperties”/ },
    { name: "properties not an object", schema: '{"type":"object","properties":[]}', note: /properties are not an object/ },
  ];
  it.each(jsonOnly)("falls back to JSON editing: $name", ({ schema, note }) => {
    const form = buildForm(schema, "");
    expect(form.jsonOnly).toBe(true);
    expect(form.fields).toEqual([]);
    expect(form.notes.join(" ")).toMatch(note);
  });

  it("keeps annotations and $schema at the root", () => {
    const form = buildForm('{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"T","description":"D","properties":{"a":{"type":"boolean"}}}', "");
    expect(form.jsonOnly).toBe(false);
    expect(form.closed).toBe(false);
    expect(form.fields[0]).toMatchObject({ name: "a", kind: "boolean", initial: false });
  });

  it("notes an additionalProperties schema and stays open", () => {
    const form = buildForm('{"type":"object","additionalProperties":{"type":"string"},"properties":{}}', "");
    expect(form.closed).toBe(false);
    expect(form.notes.join(" ")).toMatch(/additionalProperties/);
  });

  it("adds a JSON field for a required name without a property", () => {
    const form = buildForm('{"type":"object","required":["ghost"],"properties":{}}', "");
    expect(form.fields).toHaveLength(1);
    expect(form.fields[0]).toMatchObject({ name: "ghost", kind: "json", required: true });
  });

  it("ignores defaults that do not parse, with a note", () => {
    const form = buildForm(counter, "{bad");
    expect(form.fields[0]!.initial).toBe("");
    expect(form.notes.join(" ")).toMatch(/default parameters are not valid JSON/);
  });

  const fields: { name: string; prop: string; want: Partial<Field>; note?: RegExp }[] = [
    { name: "string", prop: '{"type":"string","minLength":2,"maxLength":5,"pattern":"^[a-z]+$"}', want: { kind: "string", minLength: 2, maxLength: 5, pattern: "^[a-z]+$" } },
    { name: "string with format", prop: '{"type":"string","format":"date"}', want: { kind: "string" }, note: /server checks that it is a date/ },
    { name: "string with a pattern JS cannot compile", prop: '{"type":"string","pattern":"(?<x"}', want: { kind: "string", pattern: undefined }, note: /server checks its pattern/ },
    { name: "integer bounds stay exact", prop: '{"type":"integer","minimum":-18446744073709551617,"exclusiveMaximum":18446744073709551617}', want: { kind: "integer", minimum: "-18446744073709551617", exclusiveMaximum: "18446744073709551617" } },
    { name: "number", prop: '{"type":"number","exclusiveMinimum":0,"maximum":1.5,"multipleOf":0.25}', want: { kind: "number", exclusiveMinimum: "0", maximum: "1.5", multipleOf: "0.25" } },
    { name: "draft-4 boolean exclusiveMinimum is the server's", prop: '{"type":"integer","minimum":1,"exclusiveMinimum":true}', want: { kind: "integer", minimum: "1", exclusiveMinimum: undefined }, note: /exclusiveMinimum true/ },
    { name: "multipleOf 0 is the server's", prop: '{"type":"number","multipleOf":0}', want: { kind: "number", multipleOf: undefined }, note: /multipleOf 0/ },
    { name: "boolean", prop: '{"type":"boolean","default":true}', want: { kind: "boolean", initial: true } },
    { name: "enum of strings", prop: '{"enum":["a","b"]}', want: { kind: "enum", initial: "" } },
    { name: "enum of mixed values", prop: '{"enum":[1,"one",null]}', want: { kind: "enum" } },
    { name: "const", prop: '{"const":"only"}', want: { kind: "enum" } },
    { name: "object", prop: '{"type":"object","properties":{"x":{"type":"integer"}}}', want: { kind: "json", jsonType: "object" }, note: /server checks its “properties”/ },
    { name: "array", prop: '{"type":"array","items":{"type":"integer"},"default":[1,2]}', want: { kind: "json", jsonType: "array", initial: "[\n  1,\n  2\n]" }, note: /“items”/ },
    { name: "no type", prop: "{}", want: { kind: "json", jsonType: "" } },
    { name: "true schema", prop: "true", want: { kind: "json", jsonType: "" } },
    { name: "type list", prop: '{"type":["string","null"]}', want: { kind: "json" }, note: /cannot show as a field/ },
    { name: "oneOf", prop: '{"oneOf":[{"type":"string"},{"type":"integer"}]}', want: { kind: "json" }, note: /“oneOf”/ },
    { name: "string with anyOf", prop: '{"type":"string","anyOf":[{"minLength":1}]}', want: { kind: "json" }, note: /“anyOf”/ },
    { name: "$ref", prop: '{"$ref":"#/$defs/x"}', want: { kind: "json" }, note: /“\$ref”/ },
    { name: "title and description", prop: '{"type":"string","title":"Name","description":"Who"}', want: { title: "Name", description: "Who" } },
  ];
  it.each(fields)("reads a property: $name", ({ prop, want, note }) => {
    const f = field(prop);
    expect(f).toMatchObject(Object.fromEntries(Object.entries(want).filter(([, v]) => v !== undefined)));
    for (const [k, v] of Object.entries(want)) if (v === undefined) expect(f[k as keyof Field]).toBeUndefined();
    if (note) expect(f.notes.join(" ")).toMatch(note);
    else expect(f.notes).toEqual([]);
  });

  const defaults: { name: string; prop: string; defaults: string; initial: FieldValue; deploymentDefault: string }[] = [
    { name: "deployment default beats schema default", prop: '{"type":"integer","default":1}', defaults: '{"p":2}', initial: "2", deploymentDefault: "2" },
    { name: "schema default when the deployment has none", prop: '{"type":"integer","default":1}', defaults: "{}", initial: "1", deploymentDefault: "" },
    { name: "big default keeps its digits", prop: '{"type":"integer"}', defaults: '{"p":18446744073709551617}', initial: "18446744073709551617", deploymentDefault: "18446744073709551617" },
    { name: "default of the wrong type is not shown", prop: '{"type":"string"}', defaults: '{"p":5}', initial: "", deploymentDefault: "5" },
    { name: "enum default matches numerically", prop: '{"enum":[1,2]}', defaults: '{"p":2.0}', initial: "2", deploymentDefault: "2.0" },
    { name: "enum default not an option", prop: '{"enum":[1,2]}', defaults: '{"p":3}', initial: "", deploymentDefault: "3" },
    { name: "boolean default", prop: '{"type":"boolean"}', defaults: '{"p":true}', initial: true, deploymentDefault: "true" },
    { name: "json default pretty", prop: '{"type":"object"}', defaults: '{"p":{"a":1}}', initial: '{\n  "a": 1\n}', deploymentDefault: '{"a":1}' },
  ];
  it.each(defaults)("pre-fills: $name", ({ prop, defaults, initial, deploymentDefault }) => {
    expect(field(prop, { defaults })).toMatchObject({ initial, deploymentDefault });
  });
});

describe("checkValues", () => {
  const cases: { name: string; prop: string; input: FieldValue; required?: boolean; defaults?: string; error?: RegExp; json?: string }[] = [
    // integers
    { name: "integer", prop: '{"type":"integer"}', input: "3", json: '{"p":3}' },
    { name: "integer trimmed", prop: '{"type":"integer"}', input: " 3 ", json: '{"p":3}' },
    { name: "integer beyond 2^64 exact", prop: '{"type":"integer"}', input: "18446744073709551617", json: '{"p":18446744073709551617}' },
    { name: "integer written 3.0", prop: '{"type":"integer"}', input: "3.0", json: '{"p":3.0}' },
    { name: "integer letters", prop: '{"type":"integer"}', input: "abc", error: /whole number, such as 42/ },
    { name: "integer fraction", prop: '{"type":"integer"}', input: "1.5", error: /Must be a whole number/ },
    { name: "integer with plus sign", prop: '{"type":"integer"}', input: "+1", error: /whole number/ },
    { name: "integer with leading zero", prop: '{"type":"integer"}', input: "01", error: /whole number/ },
    { name: "integer hex", prop: '{"type":"integer"}', input: "0x10", error: /whole number/ },
    { name: "integer below minimum", prop: '{"type":"integer","minimum":1}', input: "0", error: /at least 1/ },
    { name: "integer at minimum", prop: '{"type":"integer","minimum":1}', input: "1", json: '{"p":1}' },
    { name: "big integer at big maximum", prop: '{"type":"integer","maximum":18446744073709551617}', input: "18446744073709551617", json: '{"p":18446744073709551617}' },
    { name: "big integer one past big maximum", prop: '{"type":"integer","maximum":18446744073709551617}', input: "18446744073709551618", error: /at most 18446744073709551617/ },
    // Number() would round both to 9007199254740992 and call them equal.
    { name: "2^53+1 above maximum 2^53", prop: '{"type":"integer","maximum":9007199254740992}', input: "9007199254740993", error: /at most 9007199254740992/ },
    { name: "big exclusiveMinimum equal", prop: '{"type":"integer","exclusiveMinimum":18446744073709551617}', input: "18446744073709551617", error: /greater than 18446744073709551617/ },
    { name: "big exclusiveMinimum one above", prop: '{"type":"integer","exclusiveMinimum":18446744073709551617}', input: "18446744073709551618", json: '{"p":18446744073709551618}' },
    { name: "exclusiveMaximum", prop: '{"type":"integer","exclusiveMaximum":10}', input: "10", error: /less than 10/ },
    { name: "big negative minimum", prop: '{"type":"integer","minimum":-18446744073709551617}', input: "-18446744073709551618", error: /at least -18446744073709551617/ },
    { name: "multipleOf", prop: '{"type":"integer","multipleOf":5}', input: "12", error: /multiple of 5/ },
    { name: "huge exponent", prop: '{"type":"number"}', input: "1e5000", error: /exponent/ },
    // numbers
    { name: "number fraction", prop: '{"type":"number"}', input: "0.5", json: '{"p":0.5}' },
    { name: "number keeps trailing zero", prop: '{"type":"number"}', input: "1.50", json: '{"p":1.50}' },
    { name: "number exponent", prop: '{"type":"number","maximum":1000}', input: "1e3", json: '{"p":1e3}' },
    { name: "number over maximum by exponent", prop: '{"type":"number","maximum":1000}', input: "1.0001e3", error: /at most 1000/ },
    { name: "number multipleOf decimal", prop: '{"type":"number","multipleOf":0.1}', input: "0.3", json: '{"p":0.3}' },
    { name: "number NaN", prop: '{"type":"number"}', input: "NaN", error: /Enter a number/ },
    // strings
    { name: "string", prop: '{"type":"string"}', input: "hi", json: '{"p":"hi"}' },
    { name: "string keeps spaces", prop: '{"type":"string"}', input: " hi ", json: '{"p":" hi "}' },
    { name: "string escapes", prop: '{"type":"string"}', input: 'a"b\\c', json: '{"p":"a\\"b\\\\c"}' },
    { name: "string too short", prop: '{"type":"string","minLength":3}', input: "ab", error: /at least 3 characters/ },
    { name: "string too long", prop: '{"type":"string","maxLength":3}', input: "abcd", error: /at most 3 characters long \(it has 4\)/ },
    { name: "maxLength counts code points", prop: '{"type":"string","maxLength":2}', input: "😀😀", json: '{"p":"😀😀"}' },
    { name: "pattern miss", prop: '{"type":"string","pattern":"^[a-z]+$"}', input: "ab1", error: /pattern/ },
    { name: "pattern is not anchored", prop: '{"type":"string","pattern":"[0-9]"}', input: "ab1", json: '{"p":"ab1"}' },
    // enums
    { name: "enum pick", prop: '{"enum":["a","b"]}', input: '"b"', json: '{"p":"b"}' },
    { name: "enum of numbers keeps text", prop: '{"enum":[18446744073709551617]}', input: "18446744073709551617", json: '{"p":18446744073709551617}' },
    { name: "enum not an option", prop: '{"enum":["a","b"]}', input: '"c"', error: /one of "a", "b"/ },
    // booleans
    { name: "boolean checked", prop: '{"type":"boolean"}', input: true, json: '{"p":true}' },
    { name: "boolean unchecked is sent", prop: '{"type":"boolean"}', input: false, json: '{"p":false}' },
    // JSON fields
    { name: "json object", prop: '{"type":"object"}', input: '{"a": 18446744073709551617}', json: '{"p":{"a":18446744073709551617}}' },
    { name: "json wrong type", prop: '{"type":"array"}', input: '{"a":1}', error: /JSON array/ },
    { name: "json syntax", prop: '{"type":"object"}', input: "{a:1}", error: /Not valid JSON/ },
    { name: "json any", prop: "{}", input: "null", json: '{"p":null}' },
    // required and empty
    { name: "empty optional is left out", prop: '{"type":"integer"}', input: "", json: "{}" },
    { name: "empty required", prop: '{"type":"integer"}', input: "", required: true, error: /Required/ },
    { name: "empty required string", prop: '{"type":"string"}', input: "", required: true, error: /Required/ },
    { name: "empty required with a deployment default", prop: '{"type":"integer"}', input: "", required: true, defaults: '{"p":4}', json: "{}" },
    { name: "blank json required", prop: '{"type":"object"}', input: "  ", required: true, error: /Required/ },
  ];
  it.each(cases)("$name", ({ prop, input, required, defaults, error, json }) => {
    const schema = `{"type":"object","properties":{"p":${prop}}${required ? ',"required":["p"]' : ""}}`;
    const form = buildForm(schema, defaults ?? "");
    const got = checkValues(form, { p: input });
    if (error) {
      expect(got.json).toBeNull();
      expect(got.errors.p).toMatch(error);
    } else {
      expect(got.errors).toEqual({});
      expect(got.json).toBe(json);
    }
  });

  it("writes the counter parameters in field order with big numbers exact", () => {
    const form = buildForm(counter, '{"lines": 5}');
    const values = { ...initialValues(form), lines: "3", big: "18446744073709551617" };
    expect(checkValues(form, values)).toEqual({ json: '{"lines":3,"pause":"0.1","big":18446744073709551617}', errors: {} });
  });

  it("reports every bad field at once", () => {
    const form = buildForm(counter, "");
    const got = checkValues(form, { lines: "0", pause: '"0.1"', big: "1.5", label: "x".repeat(41) });
    expect(Object.keys(got.errors).sort()).toEqual(["big", "label", "lines"]);
  });
});

describe("checkJsonText", () => {
  const form = buildForm(counter, "");
  const open = buildForm('{"type":"object","properties":{"a":{"type":"integer"}}}', "");
  const cases: { name: string; text: string; errors?: Record<string, RegExp>; json?: string; form?: typeof form }[] = [
    { name: "valid", text: '{"lines": 3, "big": 18446744073709551617}', json: '{"lines":3,"big":18446744073709551617}' },
    { name: "syntax", text: '{"lines": }', errors: { "": /Not valid JSON/ } },
    { name: "not an object", text: "[1]", errors: { "": /must be a JSON object/ } },
    { name: "unknown name when closed", text: '{"lines":3,"colour":"red"}', errors: { colour: /Not a parameter of this deployment; it takes lines, pause, big, label/ } },
    { name: "unknown name when open", text: '{"a":1,"b":2}', json: '{"a":1,"b":2}', form: open },
    { name: "missing required", text: '{"big":1}', errors: { lines: /Required/ } },
    { name: "string for an integer", text: '{"lines":"3"}', errors: { lines: /whole number/ } },
    { name: "below minimum", text: '{"lines":0}', errors: { lines: /at least 1/ } },
    { name: "too long label", text: `{"lines":1,"label":"${"x".repeat(41)}"}`, errors: { label: /at most 40/ } },
    { name: "enum miss", text: '{"lines":1,"pause":"2"}', errors: { pause: /one of/ } },
    { name: "duplicate key", text: '{"lines":1,"lines":2}', errors: { lines: /more than once/ } },
    { name: "empty text is {}", text: "  ", errors: { lines: /Required/ } },
  ];
  it.each(cases)("$name", ({ text, errors, json, form: f }) => {
    const got = checkJsonText(f ?? form, text);
    if (errors) {
      expect(got.json).toBeNull();
      expect(Object.keys(got.errors).sort()).toEqual(Object.keys(errors).sort());
      for (const [k, re] of Object.entries(errors)) expect(got.errors[k]).toMatch(re);
    } else {
      expect(got).toEqual({ json, errors: {} });
    }
  });

  it("accepts anything that is an object for a jsonOnly form", () => {
    const none = buildForm("", "");
    expect(checkJsonText(none, '{"x":[1,{"y":18446744073709551617}]}').json).toBe('{"x":[1,{"y":18446744073709551617}]}');
  });
});

describe("switching between fields and JSON", () => {
  const form = buildForm(counter, '{"lines": 5}');

  it("writes the fields as pretty JSON and reads them back unchanged", () => {
    const values = { ...initialValues(form), big: "18446744073709551617", label: "hi" };
    const text = valuesToJsonText(form, values);
    expect(text).toBe('{\n  "lines": 5,\n  "pause": "0.1",\n  "big": 18446744073709551617,\n  "label": "hi"\n}');
    expect(jsonTextToValues(form, text)).toEqual({ values, error: "" });
  });

  it("keeps text that is not yet a number as a string", () => {
    const text = valuesToJsonText(form, { ...initialValues(form), lines: "abc" });
    expect(text).toContain('"lines": "abc"');
    expect(checkJsonText(form, text).errors.lines).toMatch(/whole number/);
  });

  it.each([
    ["syntax", "{", /Not valid JSON/],
    ["not an object", "1", /JSON object/],
    ["unknown name", '{"colour":"red"}', /“colour” has no field/],
    ["wrong type", '{"lines":"three"}', /“lines” cannot be shown/],
    ["not an enum option", '{"pause":"9"}', /“pause” cannot be shown/],
  ])("refuses to switch back on %s", (_, text, re) => {
    const got = jsonTextToValues(form, text);
    expect(got.values).toBeUndefined();
    expect(got.error).toMatch(re);
  });

  it("empties fields the JSON leaves out", () => {
    expect(jsonTextToValues(form, '{"lines":2}').values).toEqual({ lines: "2", pause: "", big: "", label: "" });
  });
});

describe("checkValue", () => {
  it("treats a JSON field without type as accepting anything", () => {
    const f = field("{}");
    for (const t of ["1", '"s"', "null", "[]", "{}", "true"]) expect(checkValue(f, parseJson(t))).toBe("");
  });
});
