package mask_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/agent/internal/mask"
)

const (
	pw    = "hunter2-Pa55word"
	token = `tok"en<&>\path` + "\n" + "line2-x"
)

func TestNewWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets map[string]string
		minLen  int
		want    []string
	}{
		{"none", map[string]string{"A": "long-enough"}, 0, nil},
		{"short and empty", map[string]string{"B_SHORT": "abc", "A_EMPTY": "", "C": "abcd"}, 0, []string{
			"secret A_EMPTY is shorter than 4 bytes, so it is not masked in logs",
			"secret B_SHORT is shorter than 4 bytes, so it is not masked in logs",
		}},
		{"minimum raised to 4", map[string]string{"A": "ab"}, 1, []string{
			"secret A is shorter than 4 bytes, so it is not masked in logs",
		}},
		{"custom minimum", map[string]string{"A": "abcdefg"}, 8, []string{
			"secret A is shorter than 8 bytes, so it is not masked in logs",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, warnings := mask.New(tt.secrets, tt.minLen)
			if diff := cmp.Diff(tt.want, warnings); diff != "" {
				t.Errorf("warnings mismatch (-want +got):\n%s", diff)
			}
			for _, v := range tt.secrets {
				for _, w := range warnings {
					if v != "" && strings.Contains(w, v) {
						t.Errorf("warning %q shows the value", w)
					}
				}
				if len(v) < max(tt.minLen, 4) && v != "" {
					if got := m.MaskString("x " + v + " x"); got != "x "+v+" x" {
						t.Errorf("short value masked: %q", got)
					}
				}
			}
		})
	}
}

func TestMaskString(t *testing.T) {
	t.Parallel()
	m, _ := mask.New(map[string]string{
		"PW":    pw,
		"TOKEN": token,
		"ABC":   "abcdef",
		"DEF":   "defghi",
		"BAD":   "bad\xffutf8",
		"SHORT": "xyz",
	}, 0)
	jsonPW, _ := json.Marshal(token)
	tests := []struct {
		name, in, want string
	}{
		{"no secret", "nothing to see here", "nothing to see here"},
		{"empty", "", ""},
		{"raw", "password=" + pw, "password=***"},
		{"twice", pw + " and " + pw, "*** and ***"},
		{"back to back", pw + pw, "***"},
		{"overlapping values", "xabcdefghix", "x***x"},
		{"adjacent values", "abcdefdefghi", "***"},
		{"short value kept", "xyz", "xyz"},
		{"json escaped", `{"token":` + string(jsonPW) + `}`, `{"token":"***"}`},
		{"json unescaped html", `"` + strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(token, `\`, `\\`), `"`, `\"`), "\n", `\n`) + `"`, `"***"`},
		{"go quoted", "msg=" + strconv.Quote(token), `msg="***"`},
		{"each line of a multi-line value", "tok\"en<&>\\path", "***"},
		{"second line", "got line2-x here", "got *** here"},
		{"url query", "https://h/?p=" + url.QueryEscape(token), "https://h/?p=***"},
		{"url path", "postgres://app:" + url.PathEscape(token) + "@db/x", "postgres://app:***@db/x"},
		{"hex", "0x" + hex.EncodeToString([]byte(pw)), "0x***"},
		{"HEX", strings.ToUpper(hex.EncodeToString([]byte(pw))), "***"},
		{"base64 std", "b64=" + base64.StdEncoding.EncodeToString([]byte(pw)), "b64=***"},
		{"base64 url", base64.URLEncoding.EncodeToString([]byte(token)), "***"},
		{"base64 raw", base64.RawStdEncoding.EncodeToString([]byte(pw)) + ".", "***."},
		{"base64 raw url", base64.RawURLEncoding.EncodeToString([]byte(token)), "***"},
		{"invalid utf8 as the log shows it", "v=" + strings.ToValidUTF8("bad\xffutf8", "\uFFFD"), "v=***"},
		{"invalid utf8 raw", "v=bad\xffutf8", "v=***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := m.MaskString(tt.in); got != tt.want {
				t.Errorf("MaskString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestMaskBase64Embedded checks that a value inside a longer base64-encoded
// text is masked at each alignment, leaving at most a few characters of its
// encoding beside the replacement.
func TestMaskBase64Embedded(t *testing.T) {
	t.Parallel()
	m, _ := mask.New(map[string]string{"PW": pw}, 0)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		for pre := range 6 {
			for post := range 4 {
				plain := strings.Repeat("<", pre) + pw + strings.Repeat(">", post)
				encoded := enc.EncodeToString([]byte(plain))
				got := m.MaskString("Authorization: Basic " + encoded)
				rest, ok := strings.CutPrefix(got, "Authorization: Basic ")
				if !ok || !strings.Contains(rest, mask.Replacement) {
					t.Fatalf("pre %d post %d: MaskString(%q) = %q, not masked", pre, post, encoded, got)
				}
				// What is left is the encoding of the bytes around the value
				// plus at most 3 characters at each edge of it.
				left := len(rest) - len(mask.Replacement)
				limit := enc.EncodedLen(pre+post) + 3 + 3 + 2
				if left > limit {
					t.Errorf("pre %d post %d: %q leaves %d characters, want at most %d", pre, post, rest, left, limit)
				}
			}
		}
	}
}

func TestNilMasker(t *testing.T) {
	t.Parallel()
	var m *mask.Masker
	if got := m.MaskString("a secret"); got != "a secret" {
		t.Errorf("nil MaskString() = %q", got)
	}
	empty, _ := mask.New(nil, 0)
	if got := empty.MaskString("a secret"); got != "a secret" {
		t.Errorf("empty MaskString() = %q", got)
	}
}

func TestMaskError(t *testing.T) {
	t.Parallel()
	m, _ := mask.New(map[string]string{"PW": pw}, 0)
	if m.MaskError(nil) != nil {
		t.Error("MaskError(nil) != nil")
	}
	clean := errors.New("connection refused")
	if got := m.MaskError(clean); got != clean {
		t.Errorf("MaskError(clean) = %v, want the same error", got)
	}

	err := fmt.Errorf("login as app with %s: %w", pw, fs.ErrPermission)
	got := m.MaskError(err)
	if got.Error() != "login as app with ***: permission denied" {
		t.Errorf("MaskError() = %q", got)
	}
	if !errors.Is(got, fs.ErrPermission) {
		t.Error("errors.Is(masked, fs.ErrPermission) = false, want true")
	}
	if errors.Unwrap(got) != nil {
		t.Error("masked error unwraps to the original, whose text holds the secret")
	}
}

// A value holding '*' could be completed by a replacement next to it; the
// masker repeats until nothing matches.
func TestMaskValueWithStars(t *testing.T) {
	t.Parallel()
	m, _ := mask.New(map[string]string{"A": "***x", "B": "ab**"}, 0)
	for _, in := range []string{"ab***xx", "***x***xx", "ab**ab**", "aab***x"} {
		got := m.MaskString(in)
		if strings.Contains(got, "***x") || strings.Contains(got, "ab**") {
			t.Errorf("MaskString(%q) = %q, still holds a value", in, got)
		}
	}
}
