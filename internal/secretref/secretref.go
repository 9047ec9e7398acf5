// Package secretref parses secret references: the strings a deployment holds
// in place of a secret, such as env://DB_PASSWORD or aws-sm://prod/db#password.
//
// The control plane uses it to refuse a malformed reference when a deployment
// is applied; the agent uses it to know what to resolve. The grammar is strict
// and canonical: every accepted reference is exactly what [Ref.String] writes
// back, so two spellings never name the same secret.
//
// This package never resolves a reference and never sees a secret value. Its
// errors never quote the whole input, because a person may paste a secret
// where a reference belongs.
package secretref

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest reference accepted, in bytes. It matches the limit
// of DeploymentSpec.secrets values in the proto.
const MaxLen = 1024

// Limits of the parts of a reference.
const (
	// maxEnvNameLen bounds an env:// variable name.
	maxEnvNameLen = 255
	// maxSecretNameLen is AWS Secrets Manager's limit on a secret's name.
	maxSecretNameLen = 512
	// maxSSMNameLen is AWS Systems Manager's limit on a parameter name
	// (without an ARN).
	maxSSMNameLen = 1011
	// maxSSMDepth is AWS Systems Manager's limit on hierarchy levels.
	maxSSMDepth = 15
	// maxJSONKeyLen bounds the json-key of an aws-sm reference.
	maxJSONKeyLen = 256
	// maxVersionStageLen is AWS Secrets Manager's limit on a staging label.
	maxVersionStageLen = 256
	// minVersionIDLen and maxVersionIDLen are AWS Secrets Manager's limits on
	// a version ID.
	minVersionIDLen = 32
	maxVersionIDLen = 64
)

// Scheme says where a secret is kept.
type Scheme string

// The schemes a reference may use.
const (
	// SchemeEnv reads an environment variable of the agent: env://NAME.
	SchemeEnv Scheme = "env"
	// SchemeFile reads a file on the agent's host: file:///abs/path.
	SchemeFile Scheme = "file"
	// SchemeAWSSecretsManager reads a secret of AWS Secrets Manager:
	// aws-sm://secret-id[?version-stage=S|?version-id=V][#json-key].
	SchemeAWSSecretsManager Scheme = "aws-sm"
	// SchemeAWSSSM reads a parameter of AWS Systems Manager Parameter Store,
	// decrypted: aws-ssm:///path/name[?version=N] or aws-ssm://name.
	SchemeAWSSSM Scheme = "aws-ssm"
)

// schemeList is the list shown when a reference has no known scheme.
const schemeList = "env://, file://, aws-sm:// or aws-ssm://"

// Ref is a parsed secret reference. The zero value is not a valid reference.
// Refs are comparable: two equal Refs name the same secret.
type Ref struct {
	// Scheme says where the secret is kept.
	Scheme Scheme
	// Name says which secret: the variable name (env), the absolute path
	// (file), the secret's name or ARN (aws-sm), or the parameter name,
	// with its leading "/" when hierarchical (aws-ssm).
	Name string
	// JSONKey, for aws-sm only, names the field of a JSON secret to use;
	// empty means the whole secret string.
	JSONKey string
	// VersionStage, for aws-sm only, picks a version by staging label, such
	// as AWSPREVIOUS; empty means AWSCURRENT unless VersionID is set.
	VersionStage string
	// VersionID, for aws-sm only, picks a version by its ID.
	VersionID string
	// Version, for aws-ssm only, picks a parameter version; zero means the
	// latest.
	Version int64
}

// String returns the reference in the form [Parse] accepts.
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(string(r.Scheme))
	b.WriteString("://")
	b.WriteString(r.Name)
	switch {
	case r.VersionStage != "":
		b.WriteString("?version-stage=")
		b.WriteString(r.VersionStage)
	case r.VersionID != "":
		b.WriteString("?version-id=")
		b.WriteString(r.VersionID)
	case r.Version != 0:
		b.WriteString("?version=")
		b.WriteString(strconv.FormatInt(r.Version, 10))
	}
	if r.JSONKey != "" {
		b.WriteString("#")
		b.WriteString(r.JSONKey)
	}
	return b.String()
}

// Error is returned by [Parse]. Reason says what is wrong in words a person
// can act on; it never quotes the whole reference.
type Error struct {
	Reason string
}

// Error returns "invalid secret reference: " and the reason.
func (e *Error) Error() string { return "invalid secret reference: " + e.Reason }

func errorf(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Parse parses a secret reference. It accepts exactly these forms:
//
//	env://NAME                        NAME matches [A-Za-z_][A-Za-z0-9_]*
//	file:///abs/path                  no ".", ".." or empty segments
//	aws-sm://secret-id                a secret name or a full ARN
//	aws-sm://secret-id#json-key       one field of a JSON secret
//	aws-sm://secret-id?version-stage=AWSPREVIOUS
//	aws-sm://secret-id?version-id=EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE
//	aws-ssm:///path/to/parameter      a hierarchical parameter name
//	aws-ssm://parameter               a parameter name without hierarchy
//	aws-ssm:///path/to/parameter?version=3
//
// The query of an aws-sm reference comes before its json-key, as in a URL.
// No part may hold whitespace, control characters or percent-encoding. The
// error is an [*Error].
func Parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, errorf("empty; write one of %s followed by the secret's name", schemeList)
	}
	if len(s) > MaxLen {
		return Ref{}, errorf("%d bytes long, longer than the limit of %d", len(s), MaxLen)
	}
	if !utf8.ValidString(s) {
		return Ref{}, errorf("not valid UTF-8")
	}
	for i, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return Ref{}, errorf("holds whitespace or a control character at byte %d", i)
		}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Ref{}, errorf("not a secret reference: it must start with %s "+
			"(a deployment holds references to secrets, never their values)", schemeList)
	}
	switch Scheme(scheme) {
	case SchemeEnv:
		return parseEnv(rest)
	case SchemeFile:
		return parseFile(rest)
	case SchemeAWSSecretsManager:
		return parseSecretsManager(rest)
	case SchemeAWSSSM:
		return parseSSM(rest)
	}
	if isSchemeLike(scheme) {
		return Ref{}, errorf("unknown scheme %q; use %s", scheme, schemeList)
	}
	return Ref{}, errorf("not a secret reference: it must start with %s", schemeList)
}

// isSchemeLike reports whether s looks like a URL scheme, so that quoting it
// in an error cannot echo part of a secret pasted by mistake.
func isSchemeLike(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '+' || r == '.') {
			return false
		}
	}
	return true
}

func parseEnv(name string) (Ref, error) {
	if strings.ContainsAny(name, "?#") {
		return Ref{}, errorf("env:// takes only a variable name, without '?' or '#'")
	}
	if err := checkEnvName(name); err != nil {
		return Ref{}, err
	}
	return Ref{Scheme: SchemeEnv, Name: name}, nil
}

func checkEnvName(name string) error {
	if name == "" {
		return errorf("env:// needs a variable name, as in env://DB_PASSWORD")
	}
	if len(name) > maxEnvNameLen {
		return errorf("variable name is %d bytes long, longer than the limit of %d", len(name), maxEnvNameLen)
	}
	for i, r := range name {
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return errorf("variable name must match [A-Za-z_][A-Za-z0-9_]*, "+
				"but byte %d of the name is %q", i, r)
		}
	}
	return nil
}

func parseFile(path string) (Ref, error) {
	if !strings.HasPrefix(path, "/") {
		return Ref{}, errorf("file:// needs an absolute path, written with three slashes as in file:///run/secrets/db")
	}
	if path == "/" {
		return Ref{}, errorf("file:// path names the root directory, not a file")
	}
	if strings.HasSuffix(path, "/") {
		return Ref{}, errorf("file:// path ends with '/', so it names a directory, not a file")
	}
	if i := strings.IndexAny(path, "?#%"); i >= 0 {
		return Ref{}, errorf("file:// path holds %q at byte %d; '?', '#' and percent-encoding "+
			"are not supported, rename the file", path[i], len("file://")+i)
	}
	for seg := range strings.SplitSeq(path[1:], "/") {
		switch seg {
		case "":
			return Ref{}, errorf("file:// path holds an empty segment (\"//\"); write each '/' once")
		case ".", "..":
			return Ref{}, errorf("file:// path holds a %q segment; write the path without . or ..", seg)
		}
	}
	return Ref{Scheme: SchemeFile, Name: path}, nil
}

func parseSecretsManager(rest string) (Ref, error) {
	ref := Ref{Scheme: SchemeAWSSecretsManager}
	rest, key, hasKey := strings.Cut(rest, "#")
	if hasKey {
		if err := checkJSONKey(key); err != nil {
			return Ref{}, err
		}
		ref.JSONKey = key
	}
	id, query, hasQuery := strings.Cut(rest, "?")
	if err := checkSecretID(id); err != nil {
		return Ref{}, err
	}
	ref.Name = id
	if !hasQuery {
		return ref, nil
	}
	param, value, _ := strings.Cut(query, "=")
	switch param {
	case "version-stage":
		if err := checkVersionStage(value); err != nil {
			return Ref{}, err
		}
		ref.VersionStage = value
	case "version-id":
		if err := checkVersionID(value); err != nil {
			return Ref{}, err
		}
		ref.VersionID = value
	default:
		return Ref{}, errorf("aws-sm:// takes one query parameter, version-stage or version-id, after '?'")
	}
	return ref, nil
}

func checkJSONKey(key string) error {
	if key == "" {
		return errorf("aws-sm:// json-key after '#' is empty; name the field or remove the '#'")
	}
	if len(key) > maxJSONKeyLen {
		return errorf("aws-sm:// json-key is %d bytes long, longer than the limit of %d", len(key), maxJSONKeyLen)
	}
	if strings.ContainsAny(key, "#%") {
		return errorf("aws-sm:// json-key must not hold '#' or '%%'")
	}
	return nil
}

// checkSecretID checks a Secrets Manager secret name or ARN.
func checkSecretID(id string) error {
	if id == "" {
		return errorf("aws-sm:// needs a secret name or ARN, as in aws-sm://prod/db#password")
	}
	if strings.HasPrefix(id, "arn:") {
		return checkSecretARN(id)
	}
	return checkSecretName(id)
}

// checkSecretName checks a secret name against the rules of AWS Secrets
// Manager: 1 to 512 ASCII letters, digits and /_+=.@- characters.
func checkSecretName(name string) error {
	if len(name) > maxSecretNameLen {
		return errorf("aws-sm:// secret name is %d bytes long, longer than AWS's limit of %d", len(name), maxSecretNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !isSecretNameByte(name[i]) {
			return errorf("aws-sm:// secret name may hold only ASCII letters, digits and /_+=.@-, "+
				"but byte %d is %q", len("aws-sm://")+i, name[i])
		}
	}
	return nil
}

func isSecretNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("/_+=.@-", c) >= 0
}

// checkSecretARN checks arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME.
func checkSecretARN(arn string) error {
	const form = "arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME"
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 {
		return errorf("aws-sm:// ARN must have the form %s", form)
	}
	partition, service, region, account, kind, name := parts[1], parts[2], parts[3], parts[4], parts[5], parts[6]
	switch {
	case !isLowerWord(partition):
		return errorf("aws-sm:// ARN partition must be lowercase letters and '-', as in aws or aws-cn")
	case service != "secretsmanager":
		return errorf("aws-sm:// ARN must name the secretsmanager service; the form is %s", form)
	case !isRegion(region):
		return errorf("aws-sm:// ARN region must be an AWS region such as us-east-1")
	case !isAccountID(account):
		return errorf("aws-sm:// ARN account must be 12 digits")
	case kind != "secret":
		return errorf("aws-sm:// ARN resource must start with secret:; the form is %s", form)
	case name == "":
		return errorf("aws-sm:// ARN has no secret name after secret:")
	}
	return checkSecretName(name)
}

func isLowerWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// isRegion reports whether s looks like an AWS region: lowercase words and
// digits joined by '-', such as us-east-1 or us-gov-west-1.
func isRegion(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func checkVersionStage(stage string) error {
	if stage == "" || len(stage) > maxVersionStageLen {
		return errorf("aws-sm:// version-stage must be 1 to %d characters, as in version-stage=AWSPREVIOUS", maxVersionStageLen)
	}
	for i := 0; i < len(stage); i++ {
		if !isSecretNameByte(stage[i]) || stage[i] == '/' {
			return errorf("aws-sm:// version-stage may hold only ASCII letters, digits and _+=.@-")
		}
	}
	return nil
}

func checkVersionID(id string) error {
	if len(id) < minVersionIDLen || len(id) > maxVersionIDLen {
		return errorf("aws-sm:// version-id must be %d to %d characters long, as AWS writes it", minVersionIDLen, maxVersionIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return errorf("aws-sm:// version-id may hold only ASCII letters, digits and '-'")
		}
	}
	return nil
}

func parseSSM(rest string) (Ref, error) {
	if strings.Contains(rest, "#") {
		return Ref{}, errorf("aws-ssm:// takes no '#'; a parameter is one value")
	}
	name, query, hasQuery := strings.Cut(rest, "?")
	if err := checkSSMName(name); err != nil {
		return Ref{}, err
	}
	ref := Ref{Scheme: SchemeAWSSSM, Name: name}
	if !hasQuery {
		return ref, nil
	}
	v, ok := strings.CutPrefix(query, "version=")
	if !ok {
		return Ref{}, errorf("aws-ssm:// takes one query parameter, version, as in ?version=3")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != v {
		return Ref{}, errorf("aws-ssm:// version must be a whole number from 1, without leading zeros")
	}
	ref.Version = n
	return ref, nil
}

// checkSSMName checks a parameter name against the rules of AWS Systems
// Manager: at most 1011 characters of a-zA-Z0-9_.- and '/', a leading '/'
// when hierarchical, at most 15 levels. Names under /aws/ are public
// parameters AWS publishes, which may be read, so that prefix is allowed.
func checkSSMName(name string) error {
	if name == "" || name == "/" {
		return errorf("aws-ssm:// needs a parameter name, as in aws-ssm:///prod/db/password")
	}
	if len(name) > maxSSMNameLen {
		return errorf("aws-ssm:// parameter name is %d bytes long, longer than AWS's limit of %d", len(name), maxSSMNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-/", c) >= 0) {
			return errorf("aws-ssm:// parameter name may hold only ASCII letters, digits, _.- and '/', "+
				"but byte %d is %q", len("aws-ssm://")+i, c)
		}
	}
	if !strings.Contains(name, "/") {
		return nil
	}
	if name[0] != '/' {
		return errorf("aws-ssm:// hierarchical parameter name must start with '/', " +
			"written with three slashes as in aws-ssm:///prod/db/password")
	}
	segments := strings.Split(name[1:], "/")
	if len(segments) > maxSSMDepth {
		return errorf("aws-ssm:// parameter name has %d levels, more than AWS's limit of %d", len(segments), maxSSMDepth)
	}
	for _, seg := range segments {
		if seg == "" {
			return errorf("aws-ssm:// parameter name holds an empty level (\"//\" or a trailing '/')")
		}
	}
	return nil
}
