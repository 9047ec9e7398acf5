// Command secretecho is the program of the end-to-end test of secret
// masking: it prints the value of each environment variable named in its
// arguments in the forms a careless program might leak it, so that the test
// can check that none of them reaches the control plane. For each NAME it
// prints, on stdout:
//
//	raw NAME=VALUE
//	json {"NAME":"VALUE as encoding/json escapes it"}
//	base64 BASE64(VALUE)
//	split NAME=VALUE    (written in two writes, cut in the middle of VALUE)
//
// and "raw NAME=VALUE" on stderr, then "done" on stdout. It exits 0.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// splitPause separates the two writes of a split line, so that they reach
// the container's log as separate chunks.
const splitPause = 100 * time.Millisecond

func main() {
	for _, name := range os.Args[1:] {
		v := os.Getenv(name)
		fmt.Printf("raw %s=%s\n", name, v)
		b, err := json.Marshal(map[string]string{name: v})
		if err != nil {
			fmt.Fprintf(os.Stderr, "encode %s: %v\n", name, err)
			os.Exit(1)
		}
		fmt.Printf("json %s\n", b)
		fmt.Printf("base64 %s\n", base64.StdEncoding.EncodeToString([]byte(v)))
		half := len(v) / 2
		fmt.Printf("split %s=%s", name, v[:half])
		time.Sleep(splitPause)
		fmt.Printf("%s\n", v[half:])
		fmt.Fprintf(os.Stderr, "raw %s=%s\n", name, v)
	}
	fmt.Println("done")
}
