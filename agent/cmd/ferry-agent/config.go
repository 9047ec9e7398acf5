package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/agent/internal/conn"
)

// Defaults of the flags.
const (
	defaultCapacity      = 4
	defaultShutdownGrace = 30 * time.Second
	maxCapacity          = 10_000 // the protocol's limit
)

// namePattern is the control plane's resource name format.
var namePattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// config is the agent's configuration from flags and FERRY_* variables.
type config struct {
	server        string
	token         string
	tokenFile     string
	name          string
	capacity      int
	workDir       string
	insecureHTTP  bool
	logLevel      slog.Level
	metricsAddr   string
	shutdownGrace time.Duration
	showVersion   bool
}

// parseConfig reads the configuration: a flag wins over its variable, which
// wins over the default. It returns flag.ErrHelp for -h.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var (
		c        config
		logLevel string
		errs     []error
	)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envInt := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", name, v))
		}
		return n
	}
	envBool := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a boolean", name, v))
		}
		return b
	}
	envDuration := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration", name, v))
		}
		return d
	}

	fs := flag.NewFlagSet("ferry-agent", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.server, "server", env("FERRY_SERVER", ""),
		"control plane URL, such as https://ferry.example.com ($FERRY_SERVER)")
	fs.StringVar(&c.token, "token", env("FERRY_AGENT_TOKEN", ""),
		"agent token; prefer $FERRY_AGENT_TOKEN or --token-file, since flags show in the process list")
	fs.StringVar(&c.tokenFile, "token-file", env("FERRY_AGENT_TOKEN_FILE", ""),
		"file holding the agent token ($FERRY_AGENT_TOKEN_FILE)")
	fs.StringVar(&c.name, "name", env("FERRY_AGENT_NAME", ""),
		"agent name within its pool; default derived from the host name ($FERRY_AGENT_NAME)")
	fs.IntVar(&c.capacity, "capacity", envInt("FERRY_AGENT_CAPACITY", defaultCapacity),
		"runs held at once ($FERRY_AGENT_CAPACITY)")
	fs.StringVar(&c.workDir, "work-dir", env("FERRY_AGENT_WORK_DIR", ""),
		"working directory of process runs; default the current directory ($FERRY_AGENT_WORK_DIR)")
	fs.BoolVar(&c.insecureHTTP, "insecure-http", envBool("FERRY_INSECURE_HTTP"),
		"allow plain HTTP to a control plane that is not on loopback ($FERRY_INSECURE_HTTP)")
	fs.StringVar(&logLevel, "log-level", env("FERRY_LOG_LEVEL", "info"),
		"debug, info, warn or error ($FERRY_LOG_LEVEL)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("FERRY_AGENT_METRICS_ADDR", ""),
		"address serving /metrics, /healthz and /readyz, such as 127.0.0.1:9090; empty serves nothing ($FERRY_AGENT_METRICS_ADDR)")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", envDuration("FERRY_AGENT_SHUTDOWN_GRACE", defaultShutdownGrace),
		"how long runs may go on after SIGTERM before they are stopped ($FERRY_AGENT_SHUTDOWN_GRACE)")
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	if c.showVersion {
		return c, nil
	}
	if err := c.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return config{}, fmt.Errorf("log level %q is not debug, info, warn or error", logLevel)
	}
	return c, c.complete()
}

// complete validates c and fills what is derived: the token from its file,
// the name from the host name, the absolute working directory.
func (c *config) complete() error {
	if c.server == "" {
		return errors.New("--server (or $FERRY_SERVER) is required")
	}
	if _, err := conn.CheckServerURL(c.server, c.insecureHTTP); err != nil {
		return err
	}
	switch {
	case c.token != "" && c.tokenFile != "":
		return errors.New("give the agent token either directly or as a file, not both")
	case c.tokenFile != "":
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return fmt.Errorf("read token file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
		if c.token == "" {
			return fmt.Errorf("token file %s is empty", c.tokenFile)
		}
	case c.token == "":
		return errors.New("an agent token is required: $FERRY_AGENT_TOKEN, --token-file or --token")
	}

	if c.name == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("derive agent name from host name: %w", err)
		}
		c.name = nameFromHost(host)
	}
	if !namePattern.MatchString(c.name) {
		return fmt.Errorf("agent name %q must be 1 to 63 lower-case letters, digits and '-', "+
			"starting with a letter and not ending with '-'", c.name)
	}
	if c.capacity < 1 || c.capacity > maxCapacity {
		return fmt.Errorf("capacity %d is not between 1 and %d", c.capacity, maxCapacity)
	}
	if c.shutdownGrace < 0 {
		return fmt.Errorf("shutdown grace %s is negative", c.shutdownGrace)
	}

	dir := c.workDir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("work dir %s is not a directory", abs)
	}
	c.workDir = abs
	return nil
}

// nameFromHost turns a host name into a valid agent name: lower case, every
// other character replaced by '-', prefixed when it does not start with a
// letter, cut to 63 characters.
func nameFromHost(host string) string {
	host, _, _ = strings.Cut(strings.ToLower(host), ".")
	var b strings.Builder
	dash := false
	for _, r := range host {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := b.String()
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "agent-" + name
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimRight(name, "-")
}
