package authz

import (
	"context"
	"testing"
)

// BenchmarkAuthorize measures one authorization with the built-in policy:
// building the input, evaluating the prepared query and reading the
// decision.
func BenchmarkAuthorize(b *testing.B) {
	a, err := New(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	in := Input{
		Subject:   matrixSubject("developer"),
		Procedure: "/ferry.v1.RunService/CreateRun",
		Resource:  map[string]string{"type": "run", "deployment": "etl"},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := a.Authorize(ctx, in)
		if err != nil || !d.Allow {
			b.Fatalf("Authorize: %+v, %v", d, err)
		}
	}
}
