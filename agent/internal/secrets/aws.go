package secrets

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/ferryhq/ferry/internal/secretref"
)

// Names of the AWS services in error messages.
const (
	nameSecretsManager = "AWS Secrets Manager"
	nameSSM            = "AWS Systems Manager"
)

// awsStores builds the AWS clients on first use, one per service and region,
// from the agent's default credential chain.
type awsStores struct {
	cfg Config

	mu     sync.Mutex
	base   *aws.Config
	sm     map[string]*secretsmanager.Client
	params map[string]*ssm.Client
}

func newAWSStores(cfg Config) *awsStores {
	return &awsStores{
		cfg:    cfg,
		sm:     map[string]*secretsmanager.Client{},
		params: map[string]*ssm.Client{},
	}
}

// load returns the agent's AWS configuration, loading it on first use. A
// failed load is not kept, so fixing the agent's environment needs no
// restart of the resolver.
func (a *awsStores) load(ctx context.Context) (aws.Config, error) {
	if a.base != nil {
		return *a.base, nil
	}
	var opts []func(*config.LoadOptions) error
	if a.cfg.AWSEndpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(a.cfg.AWSEndpoint))
	}
	opts = append(opts, a.cfg.AWSLoadOptions...)
	c, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fail(ErrAgentConfig, "load the agent's AWS configuration: %v", err)
	}
	a.base = &c
	return c, nil
}

func (a *awsStores) retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = a.cfg.MaxAttempts
		o.MaxBackoff = a.cfg.MaxBackoff
	})
}

// region returns the region to call: the ARN's when the secret is named by
// ARN (a secret can only be read in its own region), else the agent's.
func region(base aws.Config, service, id string) (string, error) {
	if arn, ok := strings.CutPrefix(id, "arn:"); ok {
		if parts := strings.SplitN(arn, ":", 4); len(parts) == 4 && parts[2] != "" {
			return parts[2], nil
		}
	}
	if base.Region == "" {
		return "", fail(ErrAgentConfig, "%s: the agent has no AWS region; set AWS_REGION where the agent runs, "+
			"or a region in its AWS profile", service)
	}
	return base.Region, nil
}

func (a *awsStores) secretsManager(ctx context.Context, id string) (*secretsmanager.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	base, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	r, err := region(base, nameSecretsManager, id)
	if err != nil {
		return nil, err
	}
	if c := a.sm[r]; c != nil {
		return c, nil
	}
	c := secretsmanager.NewFromConfig(base, func(o *secretsmanager.Options) {
		o.Region = r
		o.Retryer = a.retryer()
	})
	a.sm[r] = c
	return c, nil
}

func (a *awsStores) ssmClient(ctx context.Context) (*ssm.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	base, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	r, err := region(base, nameSSM, "")
	if err != nil {
		return nil, err
	}
	if c := a.params[r]; c != nil {
		return c, nil
	}
	c := ssm.NewFromConfig(base, func(o *ssm.Options) {
		o.Region = r
		o.Retryer = a.retryer()
	})
	a.params[r] = c
	return c, nil
}

// secretValue reads a secret of Secrets Manager. A binary secret is used as
// its bytes.
func (a *awsStores) secretValue(ctx context.Context, ref secretref.Ref) (string, error) {
	client, err := a.secretsManager(ctx, ref.Name)
	if err != nil {
		return "", err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.Name)}
	what := "secret " + ref.Name
	if ref.VersionStage != "" {
		in.VersionStage = aws.String(ref.VersionStage)
		what += " with version-stage " + ref.VersionStage
	}
	if ref.VersionID != "" {
		in.VersionId = aws.String(ref.VersionID)
		what += " with version-id " + ref.VersionID
	}
	callCtx, cancel := context.WithTimeout(ctx, a.cfg.CallTimeout)
	defer cancel()
	out, err := client.GetSecretValue(callCtx, in)
	if err != nil {
		return "", a.callError(ctx, nameSecretsManager, "secretsmanager:GetSecretValue", what, err)
	}
	if out.SecretString != nil {
		return *out.SecretString, nil
	}
	if out.SecretBinary != nil {
		return string(out.SecretBinary), nil
	}
	return "", fail(ErrInvalid, "%s: %s has neither a secret string nor a secret binary", nameSecretsManager, what)
}

// parameter reads a parameter of Parameter Store, decrypted.
func (a *awsStores) parameter(ctx context.Context, ref secretref.Ref) (string, error) {
	client, err := a.ssmClient(ctx)
	if err != nil {
		return "", err
	}
	name := ref.Name
	what := "parameter " + ref.Name
	if ref.Version != 0 {
		name += ":" + strconv.FormatInt(ref.Version, 10)
		what += " version " + strconv.FormatInt(ref.Version, 10)
	}
	callCtx, cancel := context.WithTimeout(ctx, a.cfg.CallTimeout)
	defer cancel()
	out, err := client.GetParameter(callCtx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", a.callError(ctx, nameSSM, "ssm:GetParameter", what, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", fail(ErrInvalid, "%s: %s came back without a value", nameSSM, what)
	}
	return *out.Parameter.Value, nil
}

// callError turns an SDK error into a reason. ctx is the caller's context,
// so that the call's own timeout is told apart from the caller giving up.
func (a *awsStores) callError(ctx context.Context, service, action, what string, err error) error {
	if ctx.Err() != nil {
		return fail(ErrUnavailable, "%s: reading %s stopped: %v", service, what, context.Cause(ctx))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fail(ErrUnavailable, "%s: reading %s timed out after %s; check the agent's network path to AWS",
			service, what, a.cfg.CallTimeout)
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		// Its text may quote the response, which holds the secret.
		return fail(ErrUnavailable, "%s: the response for %s could not be read", service, what)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fail(ErrUnavailable, "%s: reading %s: %v", service, what, err)
	}
	code := ae.ErrorCode()
	switch code {
	case "ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound":
		return fail(ErrNotFound, "%s: %s not found (%s); check the name and the agent's region", service, what, code)
	case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
		"ExpiredTokenException", "MissingAuthenticationTokenException":
		return fail(ErrAccessDenied, "%s: the agent may not read %s (%s: %s); allow %s on it for the agent's AWS identity",
			service, what, code, ae.ErrorMessage(), action)
	case "DecryptionFailure", "DecryptionFailureException", "InvalidKeyId", "KMSAccessDeniedException",
		"KMSDisabledException", "KMSNotFoundException":
		return fail(ErrAccessDenied, "%s: %s cannot be decrypted (%s); allow kms:Decrypt on its KMS key for the agent's AWS identity",
			service, what, code)
	}
	var re *retry.MaxAttemptsError
	if errors.As(err, &re) || isThrottle(code) {
		return fail(ErrUnavailable, "%s: reading %s failed after %d attempts (%s); try again later",
			service, what, a.cfg.MaxAttempts, code)
	}
	return fail(ErrUnavailable, "%s: reading %s failed (%s: %s)", service, what, code, ae.ErrorMessage())
}

func isThrottle(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}
