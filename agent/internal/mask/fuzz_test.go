package mask_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/agent/internal/mask"
)

// FuzzMaskString checks that masked text never holds a value at least the
// minimum length long, whatever the text and the value.
func FuzzMaskString(f *testing.F) {
	f.Add("password="+pw, "s3cr3t", 0)
	f.Add("***x and ab**", "***x", 4)
	f.Add(base64.StdEncoding.EncodeToString([]byte("u:"+pw)), "aaaa", 6)
	f.Add("abcabcabcabc", "abcabc", 0)
	f.Add("x\xffy", "\xff\xff\xff\xff", 0)
	f.Fuzz(func(t *testing.T, text, value string, minLen int) {
		minLen %= 16
		secrets := map[string]string{"PW": pw, "FUZZ": value, "STARS": "a***"}
		m, _ := mask.New(secrets, minLen)
		got := m.MaskString(text)
		for name, v := range secrets {
			if len(v) >= max(minLen, mask.DefaultMinLen) && strings.Contains(got, v) {
				t.Fatalf("MaskString(%q) = %q, holds secret %s %q", text, got, name, v)
			}
		}
	})
}
