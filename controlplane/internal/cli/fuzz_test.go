package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzParseApplyFile checks that no input crashes the apply-file parser and
// that whatever it accepts is well-formed: names are valid and the JSON
// fields hold JSON objects. The seed corpus is testdata/apply plus
// testdata/fuzz/FuzzParseApplyFile.
func FuzzParseApplyFile(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "apply", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseApplyFile("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		again, err := parseApplyFile("f.yaml", data)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		for _, p := range got.Pools {
			if !nameRE.MatchString(p.GetName()) {
				t.Errorf("accepted pool name %q", p.GetName())
			}
		}
		for _, q := range got.Queues {
			if !nameRE.MatchString(q.GetName()) || !nameRE.MatchString(q.GetPool()) {
				t.Errorf("accepted queue %q/%q", q.GetPool(), q.GetName())
			}
		}
		for i, d := range got.Deployments {
			if !nameRE.MatchString(d.GetName()) {
				t.Errorf("accepted deployment name %q", d.GetName())
			}
			for _, text := range []string{d.GetSpec().GetParametersSchema(), d.GetSpec().GetDefaultParameters()} {
				if text == "" {
					continue
				}
				var obj map[string]json.RawMessage
				if err := json.Unmarshal([]byte(text), &obj); err != nil {
					t.Errorf("accepted a JSON field that is not an object: %q: %v", text, err)
				}
			}
			if !proto.Equal(d, again.Deployments[i]) {
				t.Errorf("two parses of the same file differ")
			}
		}
	})
}
