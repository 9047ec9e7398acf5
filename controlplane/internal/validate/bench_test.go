package validate

import (
	"strings"
	"testing"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// BenchmarkSendLogs measures the agent's hot path: a batch of 1,000 lines.
func BenchmarkSendLogs(b *testing.B) {
	line := strings.Repeat("log output ", 10)
	req := &ferryv1.SendLogsRequest{
		SessionId: sessionID,
		Batches: []*ferryv1.LogBatch{{
			Lease: lease(),
			Lines: logLines(1000, func(_ int, l *ferryv1.AgentLogLine) { l.Text = line }),
		}},
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Message(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateRun measures a typical API request with parameters.
func BenchmarkCreateRun(b *testing.B) {
	req := createRun(func(*ferryv1.RunTemplate) {})
	b.ReportAllocs()
	for b.Loop() {
		if err := Message(req); err != nil {
			b.Fatal(err)
		}
	}
}
