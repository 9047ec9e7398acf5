package validate

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// FuzzMessage decodes arbitrary bytes as requests and validates them: the
// validator must never panic, and must report a located *FieldError.
func FuzzMessage(f *testing.F) {
	for _, m := range []proto.Message{
		createRun(func(*ferryv1.RunTemplate) {}),
		createRun(func(r *ferryv1.RunTemplate) { r.Parameters = `{"a":[1,{"b":NaN}]}`; r.Tags = []string{"x y"} }),
		applyDeployment(func(*ferryv1.DeploymentSpec) {}),
		applyDeployment(func(s *ferryv1.DeploymentSpec) { s.Env["1X"] = "v"; s.ParametersSchema = `{"$ref":"#/x"}` }),
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []proto.Message{&ferryv1.CreateRunRequest{}, &ferryv1.ApplyDeploymentRequest{}} {
			if proto.Unmarshal(data, m) != nil {
				continue
			}
			err := Message(m)
			if err == nil {
				continue
			}
			var ferr *FieldError
			if !errors.As(err, &ferr) {
				t.Fatalf("Message error %v is a %T, want *FieldError", err, err)
			}
			// A path starts with a proto field name, never with an index.
			if ferr.Reason == "" || ferr.Field == "" || ferr.Field[0] < 'a' || ferr.Field[0] > 'z' {
				t.Fatalf("Message error %#v is not located", ferr)
			}
		}
	})
}
