package ecs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ferryhq/ferry/agent/internal/launch"
	"github.com/ferryhq/ferry/internal/ecstask"
	"github.com/ferryhq/ferry/internal/secretref"
)

// ECS bounds a container's stop timeout (the time between SIGTERM and
// SIGKILL) to this range, in seconds.
const (
	minStopTimeout = 2
	maxStopTimeout = 120
)

// plan is what a start sends to ECS for one job: the task definition to
// register (nil when the template names one) and the RunTask overrides.
type plan struct {
	register *ecs.RegisterTaskDefinitionInput
	family   string
	command  []string
	env      []types.KeyValuePair
	cpu      string
	memory   string
}

// planJob turns job, placed by tc, into a [plan]. Its errors wrap
// [launch.ErrInvalidJob].
func (l *Launcher) planJob(job launch.Job, tc TaskConfig) (plan, error) {
	args, err := launch.RenderArgs(job.Command, job.ParametersJSON)
	if err != nil {
		return plan{}, err
	}
	environ, err := job.Environ(nil)
	if err != nil {
		return plan{}, err
	}
	p := plan{command: args}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, secret := job.SecretRefs[k]; secret {
			continue
		}
		p.env = append(p.env, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	if err := planResources(&p, tc, job.Container); err != nil {
		return plan{}, err
	}
	if tc.TaskDefinition != "" {
		if len(job.SecretRefs) > 0 {
			return plan{}, fmt.Errorf("%w: secrets cannot be added to the pool's fixed task definition", launch.ErrInvalidJob)
		}
		return p, nil
	}

	secrets, err := l.secrets(job.SecretRefs)
	if err != nil {
		return plan{}, err
	}
	if job.Image == "" {
		return plan{}, fmt.Errorf("%w: image is empty", launch.ErrInvalidJob)
	}
	def := types.ContainerDefinition{
		Name:        aws.String(tc.EffectiveContainerName()),
		Image:       aws.String(job.Image),
		Essential:   aws.Bool(true),
		Secrets:     secrets,
		StopTimeout: aws.Int32(stopTimeout(job.EffectiveStopGrace())),
		LogConfiguration: &types.LogConfiguration{
			LogDriver: types.LogDriverAwslogs,
			Options: map[string]string{
				"awslogs-group":         tc.LogGroup,
				"awslogs-region":        l.cfg.AWS.Region,
				"awslogs-stream-prefix": tc.EffectiveStreamPrefix(),
			},
		},
	}
	if job.Container.User != "" {
		def.User = aws.String(job.Container.User)
	}
	if job.WorkingDir != "" {
		def.WorkingDirectory = aws.String(job.WorkingDir)
	}
	in := &ecs.RegisterTaskDefinitionInput{
		ContainerDefinitions: []types.ContainerDefinition{def},
		NetworkMode:          types.NetworkMode(tc.EffectiveNetworkMode()),
	}
	if tc.CPU > 0 {
		in.Cpu = aws.String(itoa(tc.CPU))
	}
	if tc.Memory > 0 {
		in.Memory = aws.String(itoa(tc.Memory))
	}
	if tc.Fargate() {
		in.RequiresCompatibilities = []types.Compatibility{types.CompatibilityFargate}
	}
	if tc.TaskRoleARN != "" {
		in.TaskRoleArn = aws.String(tc.TaskRoleARN)
	}
	if tc.ExecutionRoleARN != "" {
		in.ExecutionRoleArn = aws.String(tc.ExecutionRoleARN)
	}
	for _, k := range slices.Sorted(maps.Keys(tc.Tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tc.Tags[k])})
	}

	// The family is a digest of everything registered, so an unchanged job
	// maps to the task definition registered for it before.
	content, err := json.Marshal(in)
	if err != nil {
		return plan{}, fmt.Errorf("encode task definition: %w", err)
	}
	sum := sha256.Sum256(content)
	p.family = tc.EffectiveFamilyPrefix() + hex.EncodeToString(sum[:10])
	in.Family = aws.String(p.family)
	p.register = in
	return p, nil
}

// planResources sets the task-level cpu and memory overrides that the job's
// container settings ask for.
func planResources(p *plan, tc TaskConfig, c launch.Container) error {
	if c.MilliCPUs == 0 && c.MemoryBytes == 0 {
		return nil
	}
	cpu, memory := tc.CPU, tc.Memory
	if c.MilliCPUs > 0 {
		cpu = int32(int64(c.MilliCPUs) * 1024 / 1000)
	}
	if c.MemoryBytes > 0 {
		memory = int32(c.MemoryBytes >> 20)
	}
	if err := ecstask.CheckResources(tc.Fargate(), cpu, memory); err != nil {
		return fmt.Errorf("%w: %w", launch.ErrInvalidJob, err)
	}
	p.cpu, p.memory = itoa(cpu), itoa(memory)
	return nil
}

// secrets turns the job's secret references into ECS secrets, which ECS
// resolves with the execution role when the task starts, so no value
// travels through the agent's API calls.
func (l *Launcher) secrets(refs map[string]string) ([]types.Secret, error) {
	var out []types.Secret
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		ref, err := secretref.Parse(refs[name])
		if err != nil {
			return nil, fmt.Errorf("%w: secret %s: %w", launch.ErrInvalidJob, name, err)
		}
		from, err := l.valueFrom(ref)
		if err != nil {
			return nil, fmt.Errorf("%w: secret %s: %w", launch.ErrInvalidJob, name, err)
		}
		out = append(out, types.Secret{Name: aws.String(name), ValueFrom: aws.String(from)})
	}
	return out, nil
}

// valueFrom returns the valueFrom of an ECS secret for ref.
func (l *Launcher) valueFrom(ref secretref.Ref) (string, error) {
	region, account := l.cfg.AWS.Region, l.cfg.AccountID
	switch ref.Scheme {
	case secretref.SchemeAWSSecretsManager:
		arn := ref.Name
		if !strings.HasPrefix(arn, "arn:") {
			if account == "" {
				return "", fmt.Errorf("%s names a secret without its ARN and the pool has no account id", ref.Scheme)
			}
			arn = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s", region, account, ref.Name)
		}
		if ref.JSONKey != "" || ref.VersionStage != "" || ref.VersionID != "" {
			arn += ":" + ref.JSONKey + ":" + ref.VersionStage + ":" + ref.VersionID
		}
		return arn, nil
	case secretref.SchemeAWSSSM:
		if ref.Version != 0 {
			return "", fmt.Errorf("ECS cannot pin a parameter version; drop ?version=%d", ref.Version)
		}
		if strings.HasPrefix(ref.Name, "arn:") || account == "" {
			return ref.Name, nil
		}
		return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", region, account, strings.TrimPrefix(ref.Name, "/")), nil
	}
	return "", fmt.Errorf("ECS pools take only aws-sm:// and aws-ssm:// secrets, not %s://", ref.Scheme)
}

func stopTimeout(grace time.Duration) int32 {
	s := int32(grace / time.Second)
	return min(max(s, minStopTimeout), maxStopTimeout)
}
