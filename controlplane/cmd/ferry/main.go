// Command ferry is the Ferry control plane (ferry server, ferry migrate) and
// its command-line client.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry/controlplane/internal/audit"
	"github.com/ferryhq/ferry/controlplane/internal/cli"
	"github.com/ferryhq/ferry/controlplane/internal/ratelimit"
	"github.com/ferryhq/ferry/controlplane/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.Getenv}
	os.Exit(cli.Main(ctx, env, os.Args[1:], serverCommand(), migrateCommand()))
}

// envOr returns the variable's value, or def when unset.
func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func defaultDataDir(getenv func(string) string) string {
	if d := getenv("FERRY_DATA_DIR"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "ferry")
	}
	return ".ferry"
}

// floatEnv returns the number in environment variable name, or def when
// it is unset or not a number.
func floatEnv(getenv func(string) string, name string, def float64) float64 {
	if v := getenv(name); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func durationEnv(getenv func(string) string, name string, def time.Duration) time.Duration {
	if v := getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func newLogger(level string, w *os.File) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func dbFlags(fs *flag.FlagSet, getenv func(string) string) (dataDir, dbURL, logLevel *string) {
	dataDir = fs.String("data-dir", defaultDataDir(getenv), "directory for the embedded PostgreSQL and the admin key (FERRY_DATA_DIR)")
	dbURL = fs.String("database-url", getenv("FERRY_DATABASE_URL"), "PostgreSQL 14+ URL; empty runs an embedded PostgreSQL (FERRY_DATABASE_URL)")
	logLevel = fs.String("log-level", envOr(getenv, "FERRY_LOG_LEVEL", "info"), "debug, info, warn or error (FERRY_LOG_LEVEL)")
	return dataDir, dbURL, logLevel
}

func serverCommand() cli.Command {
	return cli.Command{
		Name:    "server",
		Summary: "run the control plane",
		Run: func(ctx context.Context, env cli.Env, args []string) error {
			fs := flag.NewFlagSet("server", flag.ContinueOnError)
			fs.SetOutput(env.Stderr)
			addr := fs.String("addr", envOr(env.Getenv, "FERRY_ADDR", "127.0.0.1:8080"), "listen address (FERRY_ADDR)")
			dataDir, dbURL, logLevel := dbFlags(fs, env.Getenv)
			kekFile := fs.String("signing-kek-file", env.Getenv("FERRY_SIGNING_KEK_FILE"),
				"file holding the 32-byte key that seals the work-order signing keys; default <data-dir>/signing-kek, created on first start; give every replica the same file (FERRY_SIGNING_KEK_FILE)")
			pepperFile := fs.String("auth-pepper-file", env.Getenv("FERRY_AUTH_PEPPER_FILE"),
				"file holding the 32-byte secret that keys stored API key, token and session hashes; default <data-dir>/auth-pepper, created on first start; give every replica the same file (FERRY_AUTH_PEPPER_FILE)")
			var corsOrigins, proxies listFlag
			corsOrigins.setFromEnv(env.Getenv("FERRY_CORS_ORIGINS"))
			proxies.setFromEnv(env.Getenv("FERRY_TRUSTED_PROXIES"))
			fs.Var(&corsOrigins, "cors-origin", "browser origin allowed to call the API, such as https://ferry.example.com; repeat for more (FERRY_CORS_ORIGINS, comma-separated)")
			fs.Var(&proxies, "trusted-proxy", "address or CIDR of a proxy whose X-Forwarded-For is believed; repeat for more (FERRY_TRUSTED_PROXIES, comma-separated)")
			rate := fs.Float64("rate-limit", floatEnv(env.Getenv, "FERRY_RATE_LIMIT", 0), "sustained calls per second of one API key or session; 0 takes the default, 20 (FERRY_RATE_LIMIT)")
			burst := fs.Int("rate-burst", int(floatEnv(env.Getenv, "FERRY_RATE_BURST", 0)), "calls one API key or session may make at once after being idle; 0 takes the default, 100 (FERRY_RATE_BURST)")
			agentRate := fs.Float64("agent-rate-limit", floatEnv(env.Getenv, "FERRY_AGENT_RATE_LIMIT", 0), "sustained calls per second of one agent token; 0 takes the default, 200 (FERRY_AGENT_RATE_LIMIT)")
			agentBurst := fs.Int("agent-rate-burst", int(floatEnv(env.Getenv, "FERRY_AGENT_RATE_BURST", 0)), "burst of one agent token; 0 takes the default, 1000 (FERRY_AGENT_RATE_BURST)")
			admissionFile := fs.String("admission-config", env.Getenv("FERRY_ADMISSION_CONFIG"),
				"YAML or JSON file with the settings of the built-in admission policy (policy/admission), such as allowed_registries (FERRY_ADMISSION_CONFIG)")
			leaseDur := fs.Duration("lease-duration", durationEnv(env.Getenv, "FERRY_LEASE_DURATION", 30*time.Second), "how long a run's lease lasts without a heartbeat (FERRY_LEASE_DURATION)")
			lateAfter := fs.Duration("late-after", durationEnv(env.Getenv, "FERRY_LATE_AFTER", 30*time.Second), "how far past its expected start a scheduled run is named Late (FERRY_LATE_AFTER)")
			if err := fs.Parse(args); err != nil {
				return &cli.ExitError{Code: 2}
			}
			log, err := newLogger(*logLevel, os.Stderr)
			if err != nil {
				return err
			}
			trusted, err := audit.ParseProxies(proxies)
			if err != nil {
				return fmt.Errorf("--trusted-proxy: %w", err)
			}
			admissionConfig, err := readAdmissionConfig(*admissionFile)
			if err != nil {
				return err
			}
			return server.Run(ctx, server.Config{
				AuthPepperFile:             *pepperFile,
				Admission:                  admissionConfig,
				CORSOrigins:                corsOrigins,
				TrustedProxies:             trusted,
				BootstrapAdminEmail:        env.Getenv("FERRY_BOOTSTRAP_ADMIN_EMAIL"),
				BootstrapAdminPasswordFile: env.Getenv("FERRY_BOOTSTRAP_ADMIN_PASSWORD_FILE"),
				Addr:                       *addr, DataDir: *dataDir, DatabaseURL: *dbURL, LeaseDuration: *leaseDur, SigningKEKFile: *kekFile,
				KeepaliveInterval: durationEnv(env.Getenv, "FERRY_KEEPALIVE_INTERVAL", 0),
				OfferTTL:          durationEnv(env.Getenv, "FERRY_OFFER_TTL", 0),
				LateAfter:         *lateAfter,
				RateLimit:         ratelimit.Config{Rate: *rate, Burst: *burst, AgentRate: *agentRate, AgentBurst: *agentBurst},
			}, log)
		},
	}
}

func migrateCommand() cli.Command {
	return cli.Command{
		Name:    "migrate",
		Summary: "apply pending database migrations and exit",
		Run: func(ctx context.Context, env cli.Env, args []string) error {
			fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
			fs.SetOutput(env.Stderr)
			dataDir, dbURL, logLevel := dbFlags(fs, env.Getenv)
			if err := fs.Parse(args); err != nil {
				return &cli.ExitError{Code: 2}
			}
			log, err := newLogger(*logLevel, os.Stderr)
			if err != nil {
				return err
			}
			pool, stopDB, err := server.OpenDatabase(ctx, server.Config{DataDir: *dataDir, DatabaseURL: *dbURL}, log)
			if err != nil {
				return err
			}
			defer stopDB()
			applied, err := server.Migrate(ctx, pool, log)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(env.Stdout, "database is up to date")
			}
			for _, name := range applied {
				fmt.Fprintf(env.Stdout, "applied %s\n", name)
			}
			return nil
		},
	}
}

// listFlag is a repeatable string flag whose default comes from a
// comma-separated environment variable.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds one value; the first value given on the command line replaces
// the environment's list.
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func (l *listFlag) setFromEnv(v string) {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
}

// readAdmissionConfig reads the admission policy's settings; an empty path
// keeps the policy's defaults. The policy itself reports unknown or
// mistyped settings when the server starts.
func readAdmissionConfig(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--admission-config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("--admission-config %s: %w", path, err)
	}
	// Round-trip through JSON so the policy sees JSON types only.
	j, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("--admission-config %s: %w", path, err)
	}
	var out map[string]any
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("--admission-config %s: %w", path, err)
	}
	return out, nil
}
