import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DeploymentSpecSchema } from "../../gen/ferry/v1/deployment_pb";
import { specText } from "./spec";

describe("specText", () => {
  it.each([
    {
      name: "expands JSON text fields losslessly",
      spec: { pool: "p", command: ["echo"], parametersSchema: '{"maximum":18446744073709551617}', defaultParameters: '{"big":9007199254740993}' },
      want: '{\n  "pool": "p",\n  "command": [\n    "echo"\n  ],\n  "parametersSchema": {\n    "maximum": 18446744073709551617\n  },\n  "defaultParameters": {\n    "big": 9007199254740993\n  }\n}',
    },
    {
      name: "keeps text that does not parse as a string",
      spec: { pool: "p", jobVariables: "{bad" },
      want: '{\n  "pool": "p",\n  "jobVariables": "{bad"\n}',
    },
    {
      name: "writes int64 and durations as protobuf JSON does",
      spec: { pool: "p", timeout: { seconds: 600n }, container: { memoryBytes: 18446744073709551n } },
      want: '{\n  "pool": "p",\n  "timeout": "600s",\n  "container": {\n    "memoryBytes": "18446744073709551"\n  }\n}',
    },
  ])("$name", ({ spec, want }) => {
    expect(specText(create(DeploymentSpecSchema, spec))).toBe(want);
  });

  it("is empty without a spec", () => {
    expect(specText(undefined)).toBe("");
  });
});
