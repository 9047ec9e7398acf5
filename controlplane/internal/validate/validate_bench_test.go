package validate

import (
	"testing"

	"github.com/google/uuid"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// BenchmarkMessageReportStates checks a full ReportStatesRequest (1,000
// reports, the most an agent sends in one call), as the interceptor does
// for every such call.
func BenchmarkMessageReportStates(b *testing.B) {
	req := &ferryv1.ReportStatesRequest{SessionId: uuid.NewString()}
	for i := range 1000 {
		code := int32(0)
		req.Reports = append(req.Reports, &ferryv1.StateReport{
			Lease:            &ferryv1.RunLease{RunId: uuid.NewString(), Attempt: 1, LeaseToken: int64(i + 1)},
			Kind:             ferryv1.ReportKind_REPORT_KIND_COMPLETED,
			ExitCode:         &code,
			InfrastructureId: "pid-12345",
		})
	}
	if err := Message(req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Message(req); err != nil {
			b.Fatal(err)
		}
	}
}
