package launch_test

import (
	"fmt"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

func ExampleRenderArgs() {
	args, err := launch.RenderArgs(
		[]string{"report", "--id={{ .id }}", "--region", "{{.region}}", "--filter={{ .filter }}"},
		`{"id": 9007199254740993, "region": "eu west", "filter": {"b": [1, 2], "a": true}}`,
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range args {
		fmt.Println(a)
	}
	// Output:
	// report
	// --id=9007199254740993
	// --region
	// eu west
	// --filter={"b":[1,2],"a":true}
}
