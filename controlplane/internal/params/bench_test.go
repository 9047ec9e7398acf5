package params

import (
	"fmt"
	"strings"
	"testing"
)

// benchParams returns an object of about size bytes with mixed members.
func benchParams(size int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; b.Len() < size-64; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":{"n":%d.50,"s":"value %d","a":[true,null,9007199254740993]}`, i, i, i)
	}
	b.WriteString("}")
	return b.String()
}

func BenchmarkCheck64KiB(b *testing.B) {
	raw := benchParams(MaxSize)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(raw); err != nil {
			b.Fatal(err)
		}
	}
}
