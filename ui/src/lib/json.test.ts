import { describe, expect, it } from "vitest";
import { formatJson, isJsonNumber, JsonSyntaxError, parseJson, prettyJson } from "./json";

describe("parseJson keeps numbers exactly", () => {
  const cases: [string, string][] = [
    ["2^53 + 1", '{"n":9007199254740993}'],
    ["beyond int64", '{"n":123456789012345678901234567890}'],
    ["negative", '{"n":-9223372036854775809}'],
    ["fraction digits", '{"x":0.10000000000000000555}'],
    ["exponent", '{"x":1E+400}'],
    ["nested array", '{"a":[1,[18446744073709551615,{"b":-0}]]}'],
  ];
  it.each(cases)("%s", (_name, text) => {
    expect(formatJson(parseJson(text), 0)).toBe(text);
  });
});

describe("parseJson decodes the rest like JSON.parse", () => {
  const cases = ['"a\\u00e9\\n\\"b"', "true", "false", "null", "[]", "{}", '{"k":"v","k2":[true,null]}'];
  it.each(cases)("%s", (text) => {
    expect(JSON.parse(formatJson(parseJson(text), 0))).toEqual(JSON.parse(text));
  });
});

describe("parseJson rejects bad input with an offset", () => {
  const cases: [string, number][] = [
    ["", 0],
    ["{", 1],
    ['{"a" 1}', 5],
    ["[1,]", 3],
    ["01", 1],
    ['"abc', 4],
    ["{} x", 3],
    ['"a\u0001"', 2],
  ];
  it.each(cases)("%j", (text, offset) => {
    expect(() => parseJson(text)).toThrow(JsonSyntaxError);
    try {
      parseJson(text);
    } catch (e) {
      expect((e as JsonSyntaxError).offset).toBe(offset);
    }
  });
  it("bounds nesting", () => {
    expect(() => parseJson("[".repeat(300) + "]".repeat(300))).toThrow(/too deep/);
  });
});

describe("prettyJson", () => {
  it("indents and keeps big integers", () => {
    expect(prettyJson('{"id":9007199254740993,"tags":["a"]}')).toBe(
      '{\n  "id": 9007199254740993,\n  "tags": [\n    "a"\n  ]\n}',
    );
  });
  it("returns unparsable text unchanged", () => {
    expect(prettyJson("{oops")).toBe("{oops");
  });
});

describe("isJsonNumber", () => {
  it.each([
    ["1", true],
    ["-0.5e10", true],
    ["9007199254740993", true],
    ["01", false],
    ["1.", false],
    ["+1", false],
    ["NaN", false],
    ["", false],
  ])("%s → %s", (text, want) => {
    expect(isJsonNumber(text)).toBe(want);
  });
});
