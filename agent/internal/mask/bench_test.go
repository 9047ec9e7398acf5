package mask_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ferryhq/ferry/agent/internal/mask"
)

// BenchmarkMaskString masks 1,000 log lines of about 120 bytes with 100
// secrets of 32 bytes; one line in ten holds a secret.
func BenchmarkMaskString(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	randText := func(n int) string {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(buf)
	}
	secrets := map[string]string{}
	values := make([]string, 100)
	for i := range values {
		values[i] = randText(32)
		secrets[fmt.Sprintf("SECRET_%d", i)] = values[i]
	}
	m, _ := mask.New(secrets, 0)
	lines := make([]string, 1000)
	var bytes int64
	for i := range lines {
		line := fmt.Sprintf("2026-01-02T03:04:05Z INFO request handled path=/api/v1/items/%d status=200 took=%dms %s",
			i, rng.IntN(900), randText(20))
		if i%10 == 0 {
			line += " auth=" + values[rng.IntN(len(values))]
		}
		lines[i] = line
		bytes += int64(len(line))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			_ = m.MaskString(l)
		}
	}
}

// BenchmarkNew builds a masker for 100 secrets of 32 bytes.
func BenchmarkNew(b *testing.B) {
	secrets := map[string]string{}
	for i := range 100 {
		secrets[fmt.Sprintf("SECRET_%d", i)] = fmt.Sprintf("%032d", i*7919)
	}
	for b.Loop() {
		mask.New(secrets, 0)
	}
}
