// Lossless JSON: run parameters and results are JSON text in which
// integers may exceed 2^53. JSON.parse would round them, so the UI parses
// into a tree that keeps every number's literal text and prints it back
// unchanged.

/** A JSON value whose numbers keep their source text. */
export type JsonValue =
  | { kind: "null" }
  | { kind: "bool"; value: boolean }
  | { kind: "number"; text: string }
  | { kind: "string"; value: string }
  | { kind: "array"; items: JsonValue[] }
  | { kind: "object"; members: [string, JsonValue][] };

/** The error of parseJson; offset is where in the text parsing stopped. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = "JsonSyntaxError";
  }
}

const numberRE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Reports whether text is exactly one JSON number literal. */
export function isJsonNumber(text: string): boolean {
  numberRE.lastIndex = 0;
  return numberRE.test(text) && numberRE.lastIndex === text.length;
}

/** Parses JSON text, keeping number literals exactly. Depth is bounded to
 * stay clear of the call stack's limit on hostile input. */
export function parseJson(text: string, maxDepth = 256): JsonValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const fail = (msg: string): never => {
    throw new JsonSyntaxError(msg, i);
  };
  const value = (depth: number): JsonValue => {
    if (depth > maxDepth) fail("nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const members: [string, JsonValue][] = [];
      ws();
      if (text[i] === "}") {
        i++;
        return { kind: "object", members };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a member name");
        const key = str();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        members.push([key, value(depth + 1)]);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return { kind: "object", members };
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const items: JsonValue[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { kind: "array", items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return { kind: "array", items };
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return { kind: "string", value: str() };
    if (text.startsWith("true", i)) {
      i += 4;
      return { kind: "bool", value: true };
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return { kind: "bool", value: false };
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return { kind: "null" };
    }
    numberRE.lastIndex = i;
    const m = numberRE.exec(text);
    if (m === null || m[0] === "") return fail("unexpected character");
    i += m[0].length;
    return { kind: "number", text: m[0] };
  };
  const str = (): string => {
    // Find the closing quote, then let JSON.parse decode escapes; it never
    // touches numbers here.
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      else if (text.charCodeAt(i) < 0x20) fail("control character in string");
      i++;
    }
    if (i >= text.length) fail("unterminated string");
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail("bad escape in string");
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail("unexpected text after the value");
  return v;
}

/** Prints v as JSON text; indent > 0 pretty-prints. Numbers print as parsed. */
export function formatJson(v: JsonValue, indent = 2): string {
  const out: string[] = [];
  const nl = (depth: number) => (indent > 0 ? "\n" + " ".repeat(indent * depth) : "");
  const sep = indent > 0 ? ": " : ":";
  const walk = (x: JsonValue, depth: number) => {
    switch (x.kind) {
      case "null":
        out.push("null");
        return;
      case "bool":
        out.push(x.value ? "true" : "false");
        return;
      case "number":
        out.push(x.text);
        return;
      case "string":
        out.push(JSON.stringify(x.value));
        return;
      case "array":
        if (x.items.length === 0) {
          out.push("[]");
          return;
        }
        out.push("[");
        x.items.forEach((item, n) => {
          if (n > 0) out.push(",");
          out.push(nl(depth + 1));
          walk(item, depth + 1);
        });
        out.push(nl(depth), "]");
        return;
      case "object":
        if (x.members.length === 0) {
          out.push("{}");
          return;
        }
        out.push("{");
        x.members.forEach(([k, item], n) => {
          if (n > 0) out.push(",");
          out.push(nl(depth + 1), JSON.stringify(k), sep);
          walk(item, depth + 1);
        });
        out.push(nl(depth), "}");
        return;
    }
  };
  walk(v, 0);
  return out.join("");
}

/** Pretty-prints JSON text exactly (numbers unchanged); text that does not
 * parse is returned as it is. "" stays "". */
export function prettyJson(text: string): string {
  if (text.trim() === "") return "";
  try {
    return formatJson(parseJson(text));
  } catch {
    return text;
  }
}

/** Returns the member named key of an object, or undefined. */
export function member(v: JsonValue | undefined, key: string): JsonValue | undefined {
  if (v?.kind !== "object") return undefined;
  return v.members.find(([k]) => k === key)?.[1];
}
