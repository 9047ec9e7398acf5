package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/params"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/secretref"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const (
	// maxDeploymentTimeout bounds a deployment's run timeout; a longer job
	// should checkpoint and be split.
	maxDeploymentTimeout = 7 * 24 * time.Hour
	// maxRetryDelay bounds a retry policy's base delay, which is also the cap
	// of every backoff.
	maxRetryDelay = time.Hour
)

// normalizeSpec returns a copy of spec with defaults written out, so that
// a spec naming the default queue and one naming none hash alike.
func normalizeSpec(spec *ferryv1.DeploymentSpec) *ferryv1.DeploymentSpec {
	n := proto.CloneOf(spec)
	if n.GetQueue() == "" {
		n.Queue = defaultQueue
	}
	return n
}

// checkSpec checks the rules of a deployment spec that the proto's field
// rules cannot state. It returns an InvalidArgument error naming the field.
func checkSpec(spec *ferryv1.DeploymentSpec) error {
	if len(spec.GetCommand()) == 0 || spec.GetCommand()[0] == "" {
		return errInvalid("spec.command", "must name the program to run as its first element")
	}
	for _, k := range slices.Sorted(maps.Keys(spec.GetEnv())) {
		if !isEnvName(k) {
			return errInvalid("spec.env",
				"%q is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", k)
		}
	}
	if err := checkSecrets(spec); err != nil {
		return err
	}
	if err := checkParameters(spec); err != nil {
		return err
	}
	if err := checkDuration("spec.timeout", spec.GetTimeout(), maxDeploymentTimeout); err != nil {
		return err
	}
	if err := checkDuration("spec.retry.delay", spec.GetRetry().GetDelay(), maxRetryDelay); err != nil {
		return err
	}
	for i, c := range spec.GetRetry().GetOn() {
		known := ferryv1.RetryCondition_name[int32(c)] != ""
		if !known || c == ferryv1.RetryCondition_RETRY_CONDITION_UNSPECIFIED {
			return errInvalid(fmt.Sprintf("spec.retry.on[%d]", i), "must be FAILED, CRASHED or TIMED_OUT")
		}
	}
	return nil
}

// checkSecrets checks that every value of spec.secrets is a well-formed
// secret reference and that no variable is set both as a secret and in
// spec.env. Only the syntax is checked: the agent resolves the reference.
func checkSecrets(spec *ferryv1.DeploymentSpec) error {
	for _, k := range slices.Sorted(maps.Keys(spec.GetSecrets())) {
		field := fmt.Sprintf("spec.secrets[%q]", k)
		if !isEnvName(k) {
			return errInvalid(field, "the key is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
		}
		if _, err := secretref.Parse(spec.GetSecrets()[k]); err != nil {
			return errInvalid(field, "%v", err)
		}
		if _, ok := spec.GetEnv()[k]; ok {
			return errInvalid(field, "%s is also set in spec.env; set it in one place only", k)
		}
	}
	return nil
}

// checkParameters checks that the parameters schema compiles and that the
// default parameters are an object the schema accepts.
func checkParameters(spec *ferryv1.DeploymentSpec) error {
	schema := spec.GetParametersSchema()
	if schema != "" {
		if err := params.CheckSchema(schema); err != nil {
			return parameterError("spec.parameters_schema", err)
		}
	}
	defaults := spec.GetDefaultParameters()
	if defaults == "" {
		return nil
	}
	if err := params.Check(defaults); err != nil {
		return parameterError("spec.default_parameters", err)
	}
	if err := params.Validate(schema, defaults); err != nil {
		err = fmt.Errorf("does not satisfy parameters_schema: %w", err)
		return parameterError("spec.default_parameters", err)
	}
	return nil
}

// parameterError turns an error of package params into an InvalidArgument
// error when its text is meant for the client, and passes others on.
func parameterError(field string, err error) error {
	var pe *params.Error
	var se *params.SchemaError
	if errors.As(err, &pe) || errors.As(err, &se) {
		return errInvalid(field, "%v", err)
	}
	return fmt.Errorf("check %s: %w", field, err)
}

// checkDuration checks that an optional duration is valid, not negative and
// at most limit.
func checkDuration(field string, d *durationpb.Duration, limit time.Duration) error {
	if d == nil {
		return nil
	}
	if err := d.CheckValid(); err != nil {
		return errInvalid(field, "%v", err)
	}
	v := d.AsDuration()
	if v < 0 {
		return errInvalid(field, "must not be negative, got %s", v)
	}
	if v > limit {
		return errInvalid(field, "must be at most %s, got %s", limit, v)
	}
	return nil
}

// checkSpecForPool checks the rules that depend on the deployment's pool:
// container pools need an image. A process pool ignores the image.
func checkSpecForPool(spec *ferryv1.DeploymentSpec, pool db.WorkPool) error {
	if spec.GetImage() == "" && (pool.Type == poolTypeDocker || pool.Type == poolTypeECS) {
		return errInvalid("spec.image", "is required: work pool %q is of type %s", pool.Name, pool.Type)
	}
	return nil
}

// isEnvName reports whether s is an environment variable name.
func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// specVersion is a normalized spec with its stored forms.
type specVersion struct {
	spec *ferryv1.DeploymentSpec
	// json is the protojson text stored in deployment_versions.spec.
	json []byte
	// hash is the hex SHA-256 of the spec's deterministic binary encoding,
	// which tells whether an apply changed anything.
	hash string
}

// newSpecVersion encodes spec for storage.
//
// Known limitation: deterministic protobuf encoding is stable within one
// protobuf library version only, so after an upgrade that changes it the
// first apply of an unchanged spec records one new, identical version.
func newSpecVersion(spec *ferryv1.DeploymentSpec) (specVersion, error) {
	bin, err := proto.MarshalOptions{Deterministic: true}.Marshal(spec)
	if err != nil {
		return specVersion{}, fmt.Errorf("encode deployment spec: %w", err)
	}
	sum := sha256.Sum256(bin)
	text, err := protojson.Marshal(spec)
	if err != nil {
		return specVersion{}, fmt.Errorf("encode deployment spec as JSON: %w", err)
	}
	return specVersion{spec: spec, json: text, hash: hex.EncodeToString(sum[:])}, nil
}

// deploymentToProto converts a deployment row; paused is whether
// PauseService paused it (its deployment_controls row).
func deploymentToProto(d db.Deployment, spec *ferryv1.DeploymentSpec, paused bool) *ferryv1.Deployment {
	return &ferryv1.Deployment{
		Id:         d.ID.String(),
		Name:       d.Name,
		Version:    d.CurrentVersion,
		Spec:       spec,
		CreateTime: timestamppb.New(d.CreateTime),
		UpdateTime: timestamppb.New(d.UpdateTime),
		Paused:     paused,
	}
}

func deploymentVersionToProto(v db.DeploymentVersion) (*ferryv1.DeploymentVersion, error) {
	spec, err := store.DecodeDeploymentSpec(v.Spec)
	if err != nil {
		return nil, fmt.Errorf("version %d: %w", v.Version, err)
	}
	return &ferryv1.DeploymentVersion{
		Version:    v.Version,
		Spec:       spec,
		SpecHash:   v.SpecHash,
		CreateTime: timestamppb.New(v.CreateTime),
		CreatedBy:  v.CreatedBy,
	}, nil
}

// deploymentPageTokenPrefix marks a ListDeployments page token, so that a
// token of another list is refused rather than misread.
const deploymentPageTokenPrefix = "deployments-after:"

// encodeDeploymentPageToken returns the token of the page that follows the
// deployment named last.
func encodeDeploymentPageToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(deploymentPageTokenPrefix + last))
}

// decodeDeploymentPageToken returns the name after which the page of token
// starts; the empty token starts at the beginning.
func decodeDeploymentPageToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", errInvalid("page_token", "not a token returned by ListDeployments")
	}
	after, ok := strings.CutPrefix(string(raw), deploymentPageTokenPrefix)
	if !ok || after == "" {
		return "", errInvalid("page_token", "not a token returned by ListDeployments")
	}
	return after, nil
}
