// Package secrets resolves a run's secret references (env://, file://,
// aws-sm://, aws-ssm://) into values, at launch, on the agent's host, with
// the agent's own environment and cloud credentials.
//
// It does not decide which references a run may use: the agent's local
// policy does, before the resolver is called. Its errors name the run's
// environment variable and the reference, say what to do, and never hold a
// secret value; a resolved value is returned to the caller and never logged.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry/internal/secretref"
)

// Defaults of [Config].
const (
	// defaultMaxAttempts bounds the SDK's attempts per AWS call, the first
	// included: enough to ride out a short throttling burst.
	defaultMaxAttempts = 4
	// defaultMaxBackoff caps the SDK's wait between attempts, so a launch is
	// not held for the SDK's default 20 s.
	defaultMaxBackoff = 2 * time.Second
	// defaultCallTimeout bounds one AWS call with its retries.
	defaultCallTimeout = 15 * time.Second
	// defaultConcurrency bounds the secrets fetched at once for one run.
	defaultConcurrency = 8
)

// maxFileBytes is the largest secret file read: a secret is small, and a
// reference to a large file is a mistake.
const maxFileBytes = 64 << 10

// The kinds of resolution failure; every error of [Resolver.Resolve] for a
// reference wraps one of them, so the caller can tell them apart with
// errors.Is.
var (
	// ErrNotFound means the secret does not exist where the reference says.
	ErrNotFound = errors.New("secret not found")
	// ErrAccessDenied means the agent may not read the secret.
	ErrAccessDenied = errors.New("secret access denied")
	// ErrInvalid means the reference, or the secret's content, cannot be
	// used as an environment variable's value.
	ErrInvalid = errors.New("secret unusable")
	// ErrUnavailable means the secret store could not be reached or kept
	// refusing; trying later may succeed.
	ErrUnavailable = errors.New("secret store unavailable")
	// ErrAgentConfig means the agent lacks configuration the reference
	// needs, such as an AWS region.
	ErrAgentConfig = errors.New("agent not configured for secret")
)

// Error is the failure to resolve one reference.
type Error struct {
	// EnvVar is the run's environment variable the secret was for.
	EnvVar string
	// Ref is the reference, as written in the deployment.
	Ref string
	// Err says what went wrong; it wraps one of the Err* kinds.
	Err error
}

// Error returns "secret ENV_VAR (ref): reason".
func (e *Error) Error() string { return fmt.Sprintf("secret %s (%s): %v", e.EnvVar, e.Ref, e.Err) }

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// reason is a message a person can act on, of one kind.
type reason struct {
	kind error
	msg  string
}

func (r *reason) Error() string { return r.msg }
func (r *reason) Unwrap() error { return r.kind }

func fail(kind error, format string, args ...any) error {
	return &reason{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Config configures a [Resolver]. The zero value resolves from the agent's
// real environment and files, and from AWS with the default credential chain.
type Config struct {
	// LookupEnv reads the agent's environment; nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// AWSEndpoint, when set, sends every Secrets Manager and SSM call to this
	// base URL instead of AWS's endpoints; tests use it to reach a fake.
	AWSEndpoint string
	// AWSLoadOptions are added to config.LoadDefaultConfig's options, after
	// the resolver's own.
	AWSLoadOptions []func(*config.LoadOptions) error
	// MaxAttempts bounds the attempts of one AWS call, the first included;
	// zero means 4.
	MaxAttempts int
	// MaxBackoff caps the wait between attempts; zero means 2 s.
	MaxBackoff time.Duration
	// CallTimeout bounds one AWS call with its retries; zero means 15 s.
	CallTimeout time.Duration
	// Concurrency bounds the secrets fetched at once; zero means 8.
	Concurrency int
}

// Resolver resolves secret references. It is safe for concurrent use; AWS
// clients are built on first use and shared.
type Resolver struct {
	lookupEnv   func(string) (string, bool)
	concurrency int
	aws         *awsStores
}

// New returns a resolver configured by cfg.
func New(cfg Config) *Resolver {
	if cfg.LookupEnv == nil {
		cfg.LookupEnv = os.LookupEnv
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = defaultCallTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = defaultConcurrency
	}
	return &Resolver{
		lookupEnv:   cfg.LookupEnv,
		concurrency: cfg.Concurrency,
		aws:         newAWSStores(cfg),
	}
}

// Resolve returns the value of each reference of refs, which maps a run's
// environment variable names to references. Each secret is fetched once even
// when several variables use it (for example two json-keys of one AWS
// secret). If any reference fails, Resolve returns no values and an error
// joining one [*Error] per failed variable, in name order.
func (r *Resolver) Resolve(ctx context.Context, refs map[string]string) (map[string]string, error) {
	names := slices.Sorted(maps.Keys(refs))
	parsed := make(map[string]secretref.Ref, len(refs))
	var errs []error
	for _, name := range names {
		ref, err := secretref.Parse(refs[name])
		if err != nil {
			errs = append(errs, &Error{EnvVar: name, Ref: refs[name], Err: fail(ErrInvalid, "%v", err)})
			continue
		}
		parsed[name] = ref
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	fetched := r.fetchAll(ctx, parsed)

	values := make(map[string]string, len(refs))
	for _, name := range names {
		ref := parsed[name]
		f := fetched[source(ref)]
		value, err := f.value, f.err
		if err == nil && ref.JSONKey != "" {
			value, err = jsonField(value, ref.JSONKey)
		}
		if err == nil && strings.IndexByte(value, 0) >= 0 {
			err = fail(ErrInvalid, "the value holds a NUL byte, which an environment variable cannot hold")
		}
		if err != nil {
			errs = append(errs, &Error{EnvVar: name, Ref: refs[name], Err: err})
			continue
		}
		values[name] = value
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return values, nil
}

// source returns the part of ref that says what to fetch: a JSON key is
// applied after fetching.
func source(ref secretref.Ref) secretref.Ref {
	ref.JSONKey = ""
	return ref
}

type fetchResult struct {
	value string
	err   error
}

// fetchAll fetches each distinct source of refs, a few at a time.
func (r *Resolver) fetchAll(ctx context.Context, refs map[string]secretref.Ref) map[secretref.Ref]fetchResult {
	var mu sync.Mutex
	out := make(map[secretref.Ref]fetchResult, len(refs))
	var g errgroup.Group
	g.SetLimit(r.concurrency)
	for _, ref := range refs {
		src := source(ref)
		mu.Lock()
		_, seen := out[src]
		if !seen {
			out[src] = fetchResult{}
		}
		mu.Unlock()
		if seen {
			continue
		}
		g.Go(func() error {
			v, err := r.fetch(ctx, src)
			mu.Lock()
			out[src] = fetchResult{value: v, err: err}
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through out, never through Wait
	return out
}

func (r *Resolver) fetch(ctx context.Context, ref secretref.Ref) (string, error) {
	switch ref.Scheme {
	case secretref.SchemeEnv:
		v, ok := r.lookupEnv(ref.Name)
		if !ok {
			return "", fail(ErrNotFound, "environment variable %s of the agent is not set; "+
				"set it where the agent runs, or change the reference", ref.Name)
		}
		return v, nil
	case secretref.SchemeFile:
		return readFile(ref.Name)
	case secretref.SchemeAWSSecretsManager:
		return r.aws.secretValue(ctx, ref)
	case secretref.SchemeAWSSSM:
		return r.aws.parameter(ctx, ref)
	}
	return "", fail(ErrInvalid, "scheme %s is not supported by this agent", ref.Scheme)
}
