package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// fileSchema is the layout of the config file. Keys that a flag can also
// give are kept as YAML nodes and read by [configFile.scalar], so their
// text goes through the same parsing as a flag's and errors keep their line.
// Secrets are never written in the file itself: it names files holding them.
type fileSchema struct {
	Server              yaml.Node    `yaml:"server"`
	TokenFile           yaml.Node    `yaml:"token_file"`
	Name                yaml.Node    `yaml:"name"`
	Capacity            yaml.Node    `yaml:"capacity"`
	WorkDir             yaml.Node    `yaml:"work_dir"`
	InsecureHTTP        yaml.Node    `yaml:"insecure_http"`
	LogLevel            yaml.Node    `yaml:"log_level"`
	MetricsAddr         yaml.Node    `yaml:"metrics_addr"`
	ShutdownGrace       yaml.Node    `yaml:"shutdown_grace"`
	TrustedKeysFile     yaml.Node    `yaml:"trusted_keys_file"`
	AllowUnsignedOrders yaml.Node    `yaml:"allow_unsigned_orders"`
	Docker              *dockerFile  `yaml:"docker"`
	Policy              *policyFile  `yaml:"policy"`
	Secrets             *secretsFile `yaml:"secrets"`
	ECS                 *ecsFile     `yaml:"ecs"`
}

type dockerFile struct {
	Host         yaml.Node                   `yaml:"host"`
	Network      string                      `yaml:"network"`
	RegistryAuth map[string]registryAuthFile `yaml:"registry_auth"`
}

type registryAuthFile struct {
	Username          string `yaml:"username"`
	PasswordFile      string `yaml:"password_file"`
	IdentityTokenFile string `yaml:"identity_token_file"`
}

type policyFile struct {
	// Config is free-form: the policy itself checks its settings.
	Config     yaml.Node `yaml:"config" shape:"any"`
	ExtraFiles []string  `yaml:"extra_files"`
	ReplaceDir string    `yaml:"replace_dir"`
}

type secretsFile struct {
	AWSEndpoint   string `yaml:"aws_endpoint"`
	MinMaskLength *int   `yaml:"min_mask_length"`
}

// ecsFile is the ecs section: the AWS location of ecs pools and the
// template of their tasks, as [ecs.TaskConfig].
type ecsFile struct {
	AccountID string `yaml:"account_id"`
	Region    string `yaml:"region"`
	// Endpoint replaces AWS's endpoints; for tests against a fake only.
	Endpoint          string                 `yaml:"endpoint"`
	Cluster           string                 `yaml:"cluster"`
	OtherClusters     []string               `yaml:"other_clusters"`
	LaunchType        string                 `yaml:"launch_type"`
	CapacityProviders []capacityProviderFile `yaml:"capacity_providers"`
	Subnets           []string               `yaml:"subnets"`
	SecurityGroups    []string               `yaml:"security_groups"`
	AssignPublicIP    bool                   `yaml:"assign_public_ip"`
	NetworkMode       string                 `yaml:"network_mode"`
	TaskRoleARN       string                 `yaml:"task_role_arn"`
	ExecutionRoleARN  string                 `yaml:"execution_role_arn"`
	CPU               int32                  `yaml:"cpu"`
	Memory            int32                  `yaml:"memory"`
	LogGroup          string                 `yaml:"log_group"`
	StreamPrefix      string                 `yaml:"stream_prefix"`
	PlatformVersion   string                 `yaml:"platform_version"`
	TaskDefinition    string                 `yaml:"task_definition"`
	ContainerName     string                 `yaml:"container_name"`
	FamilyPrefix      string                 `yaml:"family_prefix"`
	Tags              map[string]string      `yaml:"tags"`
	// PollInterval, LogInterval, CallTimeout and DrainTimeout tune the
	// launcher; zero keeps the defaults of [ecs.Config].
	PollInterval time.Duration `yaml:"poll_interval"`
	LogInterval  time.Duration `yaml:"log_interval"`
	CallTimeout  time.Duration `yaml:"call_timeout"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

type capacityProviderFile struct {
	Name   string `yaml:"name"`
	Weight int32  `yaml:"weight"`
	Base   int32  `yaml:"base"`
}

// refusedKeys explains keys that look right but are refused on purpose.
var refusedKeys = map[string]string{
	"token": "the agent token is never read from the config file: put it in a file " +
		"readable only by the agent and set token_file, or set $FERRY_AGENT_TOKEN",
	"password": "passwords are never read from the config file: put the password in a file " +
		"readable only by the agent and set password_file",
	"identity_token": "identity tokens are never read from the config file: put the token in a file " +
		"readable only by the agent and set identity_token_file",
}

// configFile is a parsed config file.
type configFile struct {
	fileSchema
	path string
	root *yaml.Node
}

// readConfigFile reads and parses the config file at path. Unknown keys,
// secrets written inline, and values of the wrong shape are errors that
// give the file, line and column.
func readConfigFile(path string) (*configFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	f := &configFile{path: path}
	if len(doc.Content) == 0 {
		return f, nil // empty file
	}
	f.root = doc.Content[0]
	if isNull(f.root) {
		return f, nil
	}
	if err := f.checkKeys(f.root, reflect.TypeFor[fileSchema](), ""); err != nil {
		return nil, err
	}
	if err := f.root.Decode(&f.fileSchema); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = path + ": " + m
			}
			return nil, errors.New(strings.Join(msgs, "\n"))
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return f, nil
}

// checkKeys reports every key of n that t, a type of the schema, does not
// have. section names n for messages ("docker.registry_auth[\"ghcr.io\"]").
func (f *configFile) checkKeys(n *yaml.Node, t reflect.Type, section string) error {
	n = resolveAlias(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return nil
	}
	if t == reflect.TypeFor[yaml.Node]() {
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s: %s must be a single value, not %s", f.pos(n), section, kindName(n.Kind))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: %s must be a mapping of keys to values", f.pos(n), sectionName(section))
		}
		fields := map[string]reflect.StructField{}
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			fields[name] = t.Field(i)
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			field, ok := fields[k.Value]
			switch {
			case !ok:
				errs = append(errs, f.unknownKey(k, section, fields))
			case field.Tag.Get("shape") != "any":
				errs = append(errs, f.checkKeys(v, field.Type, joinKey(section, k.Value)))
			}
		}
		return errors.Join(errs...)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: %s must be a mapping of keys to values", f.pos(n), sectionName(section))
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			errs = append(errs, f.checkKeys(v, t.Elem(), fmt.Sprintf("%s[%q]", section, k.Value)))
		}
		return errors.Join(errs...)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil // decoding reports the wrong shape with its line
		}
		var errs []error
		for i, item := range n.Content {
			errs = append(errs, f.checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", section, i)))
		}
		return errors.Join(errs...)
	}
	return nil
}

// keyPos returns the position of the value of key, a dotted path, or of
// the nearest section above it that the file has; empty when the file has
// none of them.
func (f *configFile) keyPos(key string) string {
	if f == nil || f.root == nil {
		return ""
	}
	pos := ""
	n := f.root
	for part := range strings.SplitSeq(key, ".") {
		n = resolveAlias(n)
		if n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			break
		}
		n = next
		pos = f.pos(n)
	}
	return pos
}

func (f *configFile) unknownKey(k *yaml.Node, section string, fields map[string]reflect.StructField) error {
	where := ""
	if section != "" {
		where = " in " + section
	}
	if why, ok := refusedKeys[k.Value]; ok {
		return fmt.Errorf("%s: key %q%s is refused: %s", f.pos(k), k.Value, where, why)
	}
	known := make([]string, 0, len(fields))
	for name := range fields {
		known = append(known, name)
	}
	slices.Sort(known)
	return fmt.Errorf("%s: unknown key %q%s; known keys: %s", f.pos(k), k.Value, where, strings.Join(known, ", "))
}

// scalar returns the node of a single-valued key, given as a dotted path
// ("docker.host"), and whether the file sets it. It is safe on a nil f.
func (f *configFile) scalar(key string) (*yaml.Node, bool) {
	if f == nil || f.root == nil || key == "" {
		return nil, false
	}
	n := f.root
	for part := range strings.SplitSeq(key, ".") {
		n = resolveAlias(n)
		if n.Kind != yaml.MappingNode {
			return nil, false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil, false
		}
		n = next
	}
	// checkKeys made sure that n is a single value.
	n = resolveAlias(n)
	if isNull(n) {
		return nil, false
	}
	return n, true
}

// policyData returns the policy settings of n as JSON-compatible values,
// nil when n is absent or null.
func (f *configFile) policyData(n *yaml.Node) (map[string]any, error) {
	n = resolveAlias(n)
	if n.Kind == 0 || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: policy.config must be a mapping of settings to values", f.pos(n))
	}
	var data map[string]any
	if err := n.Decode(&data); err != nil {
		return nil, fmt.Errorf("%s: policy.config: %w", f.pos(n), err)
	}
	// The policy receives JSON; a key that is not a string cannot be one.
	if _, err := json.Marshal(data); err != nil {
		return nil, fmt.Errorf("%s: policy.config must use only text keys: %w", f.pos(n), err)
	}
	return data, nil
}

// pos returns "file:line:col" for n.
func (f *configFile) pos(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d:%d", f.path, n.Line, n.Column)
}

// resolve returns path taken from the config file's directory when it is
// relative.
func (f *configFile) resolve(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(f.path), path)
}

// resolveIfSet is resolve for an optional path: empty stays empty.
func (f *configFile) resolveIfSet(path string) string {
	if path == "" {
		return ""
	}
	return f.resolve(path)
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func joinKey(section, key string) string {
	if section == "" {
		return key
	}
	return section + "." + key
}

func sectionName(section string) string {
	if section == "" {
		return "the config file"
	}
	return section
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "a value of another kind"
}
