import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { buildForm } from "../../lib/schema";
import { counted, fieldOfServerError } from "./RunForm";

describe("fieldOfServerError", () => {
  const { fields } = buildForm('{"type":"object","properties":{"day":{"type":"string"},"opts":{"type":"object"},"list":{"type":"array"}}}', "");
  it.each([
    ["names the field", new ConnectError('run.parameters: parameter "day": is not valid date', Code.InvalidArgument), "day"],
    ["names the top of a nested path", new ConnectError('run.parameters: parameter "opts.depth": must be <= 3', Code.InvalidArgument), "opts"],
    ["names the array of an index", new ConnectError('run.parameters: parameter "list[2]": must be integer', Code.InvalidArgument), "list"],
    ["ignores unknown names", new ConnectError('run.parameters: parameter "other": nope', Code.InvalidArgument), ""],
    ["ignores a name that only starts like a field", new ConnectError('run.parameters: parameter "dayx": nope', Code.InvalidArgument), ""],
    ["ignores other codes", new ConnectError('parameter "day": x', Code.PermissionDenied), ""],
    ["ignores messages without a parameter", new ConnectError("run.parameters: must be at most 65536 bytes", Code.InvalidArgument), ""],
    ["ignores non-Connect errors", new Error('parameter "day"'), ""],
  ])("%s", (_, err, want) => {
    expect(fieldOfServerError(err, fields)).toBe(want);
  });
});

describe("counted", () => {
  it.each([
    [0, "0 characters"],
    [1, "1 character"],
    [2, "2 characters"],
  ])("%d", (n, want) => {
    expect(counted(n, "character")).toBe(want);
  });
});
