import { describe, expect, it } from "vitest";
import { hasBidiControls, showUntrusted } from "./bidi";

describe("showUntrusted", () => {
  it.each([
    ["plain text stays", "counter v3", "counter v3"],
    ["empty", "", ""],
    ["right-to-left override", "abc\u202Edef", "abc⟨U+202E⟩def"],
    ["every embedding and override", "\u202A\u202B\u202C\u202D\u202E", "⟨U+202A⟩⟨U+202B⟩⟨U+202C⟩⟨U+202D⟩⟨U+202E⟩"],
    ["isolates", "\u2066x\u2067y\u2068z\u2069", "⟨U+2066⟩x⟨U+2067⟩y⟨U+2068⟩z⟨U+2069⟩"],
    ["marks", "a\u200Eb\u200Fc\u061Cd", "a⟨U+200E⟩b⟨U+200F⟩c⟨U+061C⟩d"],
    ["right-to-left letters are not controls", "שלום عربي", "שלום عربي"],
    ["neighbours of the controls stay", "\u200D\u2060\u2070", "\u200D\u2060\u2070"],
    ["text around a crafted file name", "report\u202Efdp.exe", "report⟨U+202E⟩fdp.exe"],
  ])("%s", (_, text, want) => {
    expect(showUntrusted(text)).toBe(want);
  });

  it("leaves no control behind", () => {
    const all = "\u061C\u200E\u200F\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069";
    expect(hasBidiControls(all)).toBe(true);
    expect(hasBidiControls(showUntrusted(all))).toBe(false);
    expect(hasBidiControls("plain")).toBe(false);
  });
});
