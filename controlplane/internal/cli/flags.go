package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandFlags is the flag set of one command together with what its usage
// message needs.
type commandFlags struct {
	*flag.FlagSet
	synopsis string
	summary  string
}

// newFlags returns an empty flag set for the command name ("run start"),
// whose positional arguments are described by synopsis ("DEPLOYMENT").
func newFlags(name, synopsis, summary string) *commandFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Parse errors are returned and printed by parse, never by the flag
	// package itself, so that -h can go to stdout and mistakes to stderr.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &commandFlags{FlagSet: fs, synopsis: synopsis, summary: summary}
}

// printUsage writes the command's usage and every flag to w.
func (f *commandFlags) printUsage(w io.Writer) {
	line := "ferry " + f.Name()
	if f.synopsis != "" {
		line += " " + f.synopsis
	}
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n\nFlags (write them -name or --name):\n", line, f.summary)
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// parse parses args, which may mix flags and positional arguments, and
// checks that exactly the positional arguments named in want were given.
// It returns the positional arguments. After "--" everything is positional.
// With -h it prints the usage to env.Stdout and returns [errHelpShown].
func (f *commandFlags) parse(env Env, args []string, want ...string) ([]string, error) {
	var positional []string
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printUsage(env.Stdout)
			return nil, errHelpShown
		}
		if err != nil {
			return nil, f.usageErr("%v", err)
		}
		consumed := len(args) - f.NArg()
		if consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, f.Args()...)
			break
		}
		if f.NArg() == 0 {
			break
		}
		positional = append(positional, f.Arg(0))
		args = f.Args()[1:]
	}
	if len(positional) != len(want) {
		if len(positional) < len(want) {
			return nil, f.usageErr("missing %s", strings.Join(want[len(positional):], " "))
		}
		return nil, f.usageErr("unexpected argument %q", positional[len(want)])
	}
	return positional, nil
}

// usageErr returns a usage error naming the command and pointing at -h.
func (f *commandFlags) usageErr(format string, args ...any) error {
	return usagef("%s: %s (see 'ferry %s -h')", f.Name(), fmt.Sprintf(format, args...), f.Name())
}

// stringList is a flag that may be given many times; each use appends.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// Output formats of --output.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// outputFlag registers --output on f and returns where its value lands.
func outputFlag(f *commandFlags) *string {
	return f.String("output", outputTable, "output format: table, or json (protojson, one object per line)")
}

// checkOutput reports an unknown --output value as a usage error.
func checkOutput(f *commandFlags, format string) error {
	if format != outputTable && format != outputJSON {
		return f.usageErr("--output must be table or json, not %q", format)
	}
	return nil
}
