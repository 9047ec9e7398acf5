package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ferryhq/ferry/agent/internal/conn"
	"github.com/ferryhq/ferry/agent/internal/launch/docker"
	"github.com/ferryhq/ferry/agent/internal/launch/ecs"
	"github.com/ferryhq/ferry/agent/internal/mask"
	"github.com/ferryhq/ferry/agent/internal/policy"
)

// Defaults of the settings.
const (
	defaultCapacity      = 4
	defaultShutdownGrace = 30 * time.Second
	maxCapacity          = 10_000 // the protocol's limit
)

// configFileEnv names the config file when --config is not given.
const configFileEnv = "FERRY_AGENT_CONFIG"

// namePattern is the control plane's resource name format.
var namePattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// config is the agent's configuration, merged from flags, FERRY_*
// variables and the config file.
type config struct {
	configFile    string
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

	// trustedKeysFile holds the public keys work orders must be signed with.
	trustedKeysFile string
	// allowUnsigned accepts unsigned work orders when no keys are trusted;
	// for development only.
	allowUnsigned bool

	docker  dockerSettings
	policy  policySettings
	secrets secretsSettings
	ecs     ecsSettings
}

// dockerSettings configure the launcher of docker pools.
type dockerSettings struct {
	// host is the engine's address; empty means the engine's default socket.
	host string
	// configured reports whether the operator gave a host or a docker section,
	// so that `ferry-agent check` tests the engine.
	configured bool
	network    string
	// registryAuth maps a registry host to its credentials; the passwords
	// are read from their files by complete.
	registryAuth map[string]registryAuthFiles
	credentials  map[string]docker.RegistryAuth
}

// registryAuthFiles name where one registry's credentials are kept.
type registryAuthFiles struct {
	username          string
	passwordFile      string
	identityTokenFile string
}

// policySettings select the agent's local policy.
type policySettings struct {
	policy.Config
	// source locates the settings in the config file, such as
	// "agent.yaml:12", for messages about them; empty when there are none.
	source string
}

// secretsSettings configure secret resolution and masking.
type secretsSettings struct {
	awsEndpoint   string
	minMaskLength int
}

// ecsSettings configure the launcher of ecs pools.
type ecsSettings struct {
	// configured reports whether the config file has an ecs section; only
	// then are ecs pools served.
	configured bool
	task       ecs.TaskConfig
	// otherClusters are the clusters besides task.Cluster that job
	// variables may name; see [ecs.Config.OtherClusters].
	otherClusters []string
	accountID     string
	// region is empty for the default chain's ($AWS_REGION, shared config).
	region string
	// endpoint, when set, replaces AWS's endpoints; for tests only.
	endpoint string
	// pollInterval, logInterval, callTimeout and drainTimeout tune the
	// launcher; zero keeps the defaults of [ecs.Config].
	pollInterval, logInterval, callTimeout, drainTimeout time.Duration
	// file locates the section's keys for messages.
	file *configFile
}

// accountIDPattern is an AWS account id.
var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// fieldKeys maps the fields [ecs.TaskConfig.Validate] names to the keys of
// the ecs section where they differ.
var fieldKeys = map[string]string{"capacity_provider_strategy": "capacity_providers"}

// validate checks the ecs section; its errors name the key as ecs.<key>,
// with its place in the file.
func (s ecsSettings) validate() error {
	if !s.configured {
		return nil
	}
	if s.accountID != "" && !accountIDPattern.MatchString(s.accountID) {
		return s.keyErr("account_id", fmt.Sprintf("%q is not a 12-digit AWS account id", s.accountID))
	}
	if s.endpoint != "" {
		u, err := url.Parse(s.endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s.keyErr("endpoint", fmt.Sprintf("%q is not an http or https URL", s.endpoint))
		}
	}
	for _, d := range []struct {
		key   string
		value time.Duration
	}{
		{"poll_interval", s.pollInterval}, {"log_interval", s.logInterval}, {"call_timeout", s.callTimeout},
		{"drain_timeout", s.drainTimeout},
	} {
		if d.value < 0 {
			return s.keyErr(d.key, fmt.Sprintf("%s is negative", d.value))
		}
	}
	err := s.task.Validate()
	if err == nil {
		err = ecs.CheckOtherClusters(s.otherClusters)
	}
	var fe *ecs.FieldError
	if errors.As(err, &fe) {
		key := fe.Field
		if k, ok := fieldKeys[key]; ok {
			key = k
		}
		return s.keyErr(key, fe.Reason)
	}
	if err != nil {
		return fmt.Errorf("ecs: %w", err)
	}
	return nil
}

func (s ecsSettings) keyErr(key, reason string) error {
	msg := "ecs." + key + ": " + reason
	if pos := s.file.keyPos("ecs." + key); pos != "" {
		msg = pos + ": " + msg
	}
	return errors.New(msg)
}

// setting is one option that a flag, an environment variable and a key of
// the config file can each give; the first of them that is set wins.
type setting struct {
	flag string   // flag name
	env  []string // variables, the first one set wins
	key  string   // dotted key in the config file; empty if never read from it
	// path marks a file or directory: a relative one in the config file is
	// taken from the file's directory.
	path bool
	// fallbackEnv is read after the config file, for a variable that is not
	// the agent's own (DOCKER_HOST).
	fallbackEnv string
}

// settings are the options given by flag, variable or file key. Options of
// the config file's docker, policy and secrets sections other than the
// Docker host have no flag.
var settings = []setting{
	{flag: "server", env: []string{"FERRY_SERVER"}, key: "server"},
	{flag: "token", env: []string{"FERRY_AGENT_TOKEN"}},
	{flag: "token-file", env: []string{"FERRY_AGENT_TOKEN_FILE"}, key: "token_file", path: true},
	{flag: "name", env: []string{"FERRY_AGENT_NAME"}, key: "name"},
	{flag: "capacity", env: []string{"FERRY_AGENT_CAPACITY"}, key: "capacity"},
	{flag: "work-dir", env: []string{"FERRY_AGENT_WORK_DIR"}, key: "work_dir", path: true},
	{flag: "insecure-http", env: []string{"FERRY_INSECURE_HTTP"}, key: "insecure_http"},
	{flag: "log-level", env: []string{"FERRY_LOG_LEVEL"}, key: "log_level"},
	{flag: "metrics-addr", env: []string{"FERRY_AGENT_METRICS_ADDR"}, key: "metrics_addr"},
	{flag: "shutdown-grace", env: []string{"FERRY_AGENT_SHUTDOWN_GRACE"}, key: "shutdown_grace"},
	{flag: "trusted-keys-file", env: []string{"FERRY_AGENT_TRUSTED_KEYS_FILE"}, key: "trusted_keys_file", path: true},
	{flag: "allow-unsigned-orders", env: []string{"FERRY_AGENT_ALLOW_UNSIGNED_ORDERS"}, key: "allow_unsigned_orders"},
	{flag: "docker-host", env: []string{"FERRY_AGENT_DOCKER_HOST"}, key: "docker.host", fallbackEnv: "DOCKER_HOST"},
}

// parseConfig reads and validates the whole configuration. It returns
// flag.ErrHelp for -h.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	c, err := loadConfig(args, getenv, output)
	if err != nil || c.showVersion {
		return c, err
	}
	if err := c.checkServer(); err != nil {
		return config{}, err
	}
	return c, c.complete()
}

// loadConfig merges the configuration: a flag wins over its variable,
// which wins over the config file, which wins over the default. It checks
// the form of each value but not what the values mean together; see
// [config.checkServer] and [config.complete]. It returns flag.ErrHelp for -h.
func loadConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var (
		c        config
		logLevel string
	)
	fs := flag.NewFlagSet("ferry-agent", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage:\n"+
			"  ferry-agent [flags]         run the agent\n"+
			"  ferry-agent check [flags]   check the configuration, the control plane, Docker, ECS and the policy\n\n"+
			"A flag wins over its variable, which wins over the config file (--config).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.configFile, "config", "",
		"YAML config file; flags and variables override its keys ($"+configFileEnv+")")
	fs.StringVar(&c.server, "server", "",
		"control plane URL, such as https://ferry.example.com ($FERRY_SERVER)")
	fs.StringVar(&c.token, "token", "",
		"agent token; prefer $FERRY_AGENT_TOKEN or --token-file, since flags show in the process list")
	fs.StringVar(&c.tokenFile, "token-file", "",
		"file holding the agent token ($FERRY_AGENT_TOKEN_FILE)")
	fs.StringVar(&c.name, "name", "",
		"agent name within its pool; default derived from the host name ($FERRY_AGENT_NAME)")
	fs.IntVar(&c.capacity, "capacity", defaultCapacity,
		"runs held at once ($FERRY_AGENT_CAPACITY)")
	fs.StringVar(&c.workDir, "work-dir", "",
		"working directory of process runs; default the current directory ($FERRY_AGENT_WORK_DIR)")
	fs.BoolVar(&c.insecureHTTP, "insecure-http", false,
		"allow plain HTTP to a control plane that is not on loopback ($FERRY_INSECURE_HTTP)")
	fs.StringVar(&logLevel, "log-level", "info",
		"debug, info, warn or error ($FERRY_LOG_LEVEL)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "",
		"address serving /metrics, /healthz and /readyz, such as 127.0.0.1:9090; "+
			"empty serves nothing ($FERRY_AGENT_METRICS_ADDR)")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", defaultShutdownGrace,
		"how long runs may go on after SIGTERM before they are stopped ($FERRY_AGENT_SHUTDOWN_GRACE)")
	fs.StringVar(&c.trustedKeysFile, "trusted-keys-file", "",
		"public keys work orders must be signed with, as printed by "+
			"'ferry keys ls --output agent' ($FERRY_AGENT_TRUSTED_KEYS_FILE)")
	fs.BoolVar(&c.allowUnsigned, "allow-unsigned-orders", false,
		"run work orders without checking signatures, for development only "+
			"($FERRY_AGENT_ALLOW_UNSIGNED_ORDERS)")
	fs.StringVar(&c.docker.host, "docker-host", "",
		"Docker engine of docker pools, such as unix:///var/run/docker.sock "+
			"($FERRY_AGENT_DOCKER_HOST, else $DOCKER_HOST)")
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.showVersion {
		return c, nil
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["config"] {
		c.configFile = getenv(configFileEnv)
	}
	var file *configFile
	if c.configFile != "" {
		var err error
		if file, err = readConfigFile(c.configFile); err != nil {
			return config{}, err
		}
	}

	var errs []error
	for _, s := range settings {
		if given[s.flag] {
			continue
		}
		if name, v := firstEnv(getenv, s.env); name != "" {
			if err := setFlag(fs, s.flag, v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %w", name, err))
			}
			continue
		}
		if v, ok := file.scalar(s.key); ok {
			value := v.Value
			if s.path {
				value = file.resolve(value)
			}
			if err := setFlag(fs, s.flag, value); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", file.pos(v), s.key, err))
			}
			continue
		}
		if v := getenv(s.fallbackEnv); s.fallbackEnv != "" && v != "" {
			if err := setFlag(fs, s.flag, v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %w", s.fallbackEnv, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	if err := c.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return config{}, fmt.Errorf("log level %q is not debug, info, warn or error", logLevel)
	}
	if err := c.applyFile(file); err != nil {
		return config{}, err
	}
	return c, nil
}

// applyFile copies the config file's settings that have no flag.
func (c *config) applyFile(f *configFile) error {
	c.secrets.minMaskLength = mask.DefaultMinLen
	c.docker.configured = c.docker.host != ""
	if f == nil {
		return nil
	}
	if d := f.Docker; d != nil {
		c.docker.configured = true
		c.docker.network = d.Network
		c.docker.registryAuth = make(map[string]registryAuthFiles, len(d.RegistryAuth))
		for registry, a := range d.RegistryAuth {
			c.docker.registryAuth[registry] = registryAuthFiles{
				username:          a.Username,
				passwordFile:      f.resolveIfSet(a.PasswordFile),
				identityTokenFile: f.resolveIfSet(a.IdentityTokenFile),
			}
		}
	}
	if p := f.Policy; p != nil {
		data, err := f.policyData(&p.Config)
		if err != nil {
			return err
		}
		c.policy.Data = data
		if data != nil {
			c.policy.source = f.pos(&p.Config)
		}
		for _, extra := range p.ExtraFiles {
			c.policy.ExtraFiles = append(c.policy.ExtraFiles, f.resolve(extra))
		}
		c.policy.ReplaceDir = f.resolveIfSet(p.ReplaceDir)
	}
	if e := f.ECS; e != nil {
		c.ecs = ecsSettings{
			configured:    true,
			accountID:     e.AccountID,
			region:        e.Region,
			endpoint:      e.Endpoint,
			file:          f,
			pollInterval:  e.PollInterval,
			logInterval:   e.LogInterval,
			callTimeout:   e.CallTimeout,
			drainTimeout:  e.DrainTimeout,
			otherClusters: e.OtherClusters,
			task: ecs.TaskConfig{
				Cluster:          e.Cluster,
				LaunchType:       e.LaunchType,
				Subnets:          e.Subnets,
				SecurityGroups:   e.SecurityGroups,
				AssignPublicIP:   e.AssignPublicIP,
				NetworkMode:      e.NetworkMode,
				TaskRoleARN:      e.TaskRoleARN,
				ExecutionRoleARN: e.ExecutionRoleARN,
				CPU:              e.CPU,
				Memory:           e.Memory,
				LogGroup:         e.LogGroup,
				StreamPrefix:     e.StreamPrefix,
				PlatformVersion:  e.PlatformVersion,
				TaskDefinition:   e.TaskDefinition,
				ContainerName:    e.ContainerName,
				FamilyPrefix:     e.FamilyPrefix,
				Tags:             e.Tags,
			},
		}
		for _, cp := range e.CapacityProviders {
			c.ecs.task.CapacityProviders = append(c.ecs.task.CapacityProviders,
				ecs.CapacityProvider{Name: cp.Name, Weight: cp.Weight, Base: cp.Base})
		}
	}
	if s := f.Secrets; s != nil {
		c.secrets.awsEndpoint = s.AWSEndpoint
		if s.MinMaskLength != nil {
			c.secrets.minMaskLength = *s.MinMaskLength
		}
	}
	return nil
}

// checkServer validates the control plane URL.
func (c *config) checkServer() error {
	if c.server == "" {
		return errors.New("--server (or $FERRY_SERVER, or server in the config file) is required")
	}
	_, err := conn.CheckServerURL(c.server, c.insecureHTTP)
	return err
}

// complete validates c, except for the server URL, and fills what is
// derived: the token and registry passwords from their files, the name from
// the host name, the absolute working directory.
func (c *config) complete() error {
	switch {
	case c.token != "" && c.tokenFile != "":
		return errors.New("give the agent token either directly or as a file, not both")
	case c.tokenFile != "":
		token, err := readSecretFile("token file", c.tokenFile)
		if err != nil {
			return err
		}
		c.token = token
	case c.token == "":
		return errors.New("an agent token is required: $FERRY_AGENT_TOKEN, --token-file, " +
			"token_file in the config file, or --token")
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
	if c.trustedKeysFile != "" && c.allowUnsigned {
		return errors.New("trusted keys and allow_unsigned_orders exclude each other: " +
			"with trusted keys every order must be signed; drop one of the two settings")
	}
	if c.secrets.minMaskLength < mask.DefaultMinLen {
		return fmt.Errorf("secrets.min_mask_length %d is below %d: shorter values would mask ordinary words",
			c.secrets.minMaskLength, mask.DefaultMinLen)
	}
	if err := c.readRegistryAuth(); err != nil {
		return err
	}
	if err := c.ecs.validate(); err != nil {
		return err
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

// readRegistryAuth reads the registry credentials from their files.
func (c *config) readRegistryAuth() error {
	c.docker.credentials = make(map[string]docker.RegistryAuth, len(c.docker.registryAuth))
	for registry, a := range c.docker.registryAuth {
		where := fmt.Sprintf("docker.registry_auth[%q]", registry)
		var auth docker.RegistryAuth
		switch {
		case a.passwordFile != "" && a.identityTokenFile != "":
			return fmt.Errorf("%s: give password_file or identity_token_file, not both", where)
		case a.passwordFile != "":
			if a.username == "" {
				return fmt.Errorf("%s: password_file needs a username", where)
			}
			password, err := readSecretFile(where+" password file", a.passwordFile)
			if err != nil {
				return err
			}
			auth = docker.RegistryAuth{Username: a.username, Password: password}
		case a.identityTokenFile != "":
			token, err := readSecretFile(where+" identity token file", a.identityTokenFile)
			if err != nil {
				return err
			}
			auth = docker.RegistryAuth{Username: a.username, IdentityToken: token}
		default:
			return fmt.Errorf("%s: set password_file (with username) or identity_token_file", where)
		}
		c.docker.credentials[registry] = auth
	}
	return nil
}

// readSecretFile returns the content of the file at path without its
// surrounding white space; what names the file in errors. An empty file is
// an error.
func readSecretFile(what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s %s is empty", what, path)
	}
	return s, nil
}

// firstEnv returns the first of the variables names that is set, and its
// value; an empty name when none is.
func firstEnv(getenv func(string) string, names []string) (string, string) {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

// setFlag sets the flag name from text, with an error that says what
// kind of value was expected.
func setFlag(fs *flag.FlagSet, name, value string) error {
	if err := fs.Set(name, value); err != nil {
		want := "valid"
		if g, ok := fs.Lookup(name).Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case int:
				want = "a whole number"
			case bool:
				want = "true or false"
			case time.Duration:
				want = "a duration such as 30s or 2m"
			}
		}
		return fmt.Errorf("%q is not %s", value, want)
	}
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
