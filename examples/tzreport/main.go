// Command tzreport is Ferry's example data pipeline. It extracts the IANA
// time-zone database from the copy committed with it, validates it, computes
// for one year each zone's UTC offsets and whether it observes daylight saving
// time (by evaluating the zic rules itself, not through the system's zone
// files), aggregates them and writes report.md and summary.json.
//
// Parameters come as a JSON object in FERRY_PARAMETERS, as Ferry passes them.
// Progress goes to stdout one structured line per step, warnings and errors
// to stderr, and the last line of stdout is the absolute path of report.md.
// Exit status: 0 on success, 1 when processing fails, 2 for bad parameters
// or flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK         = 0
	exitFailed     = 1
	exitBadRequest = 2
)

// defaultDataDir is where the data is when the binary runs from the repository
// root, as it does in Ferry's demo.
const defaultDataDir = "examples/tzreport/data"

// env names.
const (
	envParameters = "FERRY_PARAMETERS"
	envDataDir    = "TZREPORT_DATA"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, invocation{
		args:   os.Args[1:],
		getenv: os.Getenv,
		stdout: os.Stdout,
		stderr: os.Stderr,
		now:    time.Now,
	})
	stop()
	os.Exit(code)
}

// invocation is what run needs from the process, so tests can supply their own.
type invocation struct {
	args   []string
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

// run runs the job and returns the process exit code.
func run(ctx context.Context, inv invocation) int {
	fs := flag.NewFlagSet("tzreport", flag.ContinueOnError)
	fs.SetOutput(inv.stderr)
	dataDir := fs.String("data", "", "directory holding tzdata.zi, zone1970.tab and iso3166.tab "+
		"(default $"+envDataDir+", else "+defaultDataDir+")")
	if err := fs.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitBadRequest
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(inv.stderr, "tzreport: unexpected argument %q; parameters come from %s\n",
			fs.Arg(0), envParameters)
		return exitBadRequest
	}
	if *dataDir == "" {
		*dataDir = inv.getenv(envDataDir)
	}
	if *dataDir == "" {
		*dataDir = defaultDataDir
	}

	p, err := decodeParameters(inv.getenv(envParameters), inv.now())
	if err != nil {
		fmt.Fprintf(inv.stderr, "tzreport: %v\n", err)
		return exitBadRequest
	}

	logger := slog.New(newSplitHandler(inv.stdout, inv.stderr))
	continent := p.Continent
	if continent == "" {
		continent = "all"
	}
	logger.InfoContext(ctx, "parameters accepted", "step", "params", "as_of_year", p.AsOfYear,
		"top_n", p.TopN, "continent", continent, "output_dir", p.OutputDir,
		"fail_on_purpose", p.FailOnPurpose, "data_dir", *dataDir)

	reportPath, err := pipeline(ctx, logger, *dataDir, p)
	if err != nil {
		logger.ErrorContext(ctx, "run failed", "error", err)
		return exitFailed
	}
	fmt.Fprintln(inv.stdout, reportPath)
	return exitOK
}
