package awsfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Targets of the Secrets Manager fake.
const (
	// TargetGetSecretValue is the X-Amz-Target of GetSecretValue.
	TargetGetSecretValue = "secretsmanager.GetSecretValue"
)

// Staging labels of Secrets Manager.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// Secret is a secret, or a new version of one, for [SecretsManager.Put].
type Secret struct {
	// Name is the secret's name, such as "prod/db".
	Name string
	// Region holds the secret; empty means [Region].
	Region string
	// String is the secret string.
	String string
	// Binary, when set, is the secret binary instead of String.
	Binary []byte
	// Stages are the staging labels of the new version; empty means
	// AWSCURRENT, which moves AWSPREVIOUS to the version that had it.
	Stages []string
}

// SecretsManager is a fake of AWS Secrets Manager's GetSecretValue. It is safe
// for concurrent use.
type SecretsManager struct {
	mu      sync.Mutex
	secrets map[string]*fakeSecret // by region + "/" + name
	denied  map[string]bool        // names and ARNs
	nextID  int
}

type fakeSecret struct {
	name, arn string
	versions  []*secretVersion
}

type secretVersion struct {
	id      string
	stages  []string
	str     string
	binary  []byte
	created time.Time
}

// NewSecretsManager registers a Secrets Manager fake on s and returns it.
func NewSecretsManager(s *Server) *SecretsManager {
	m := &SecretsManager{secrets: map[string]*fakeSecret{}, denied: map[string]bool{}}
	s.Register(Service{
		TargetPrefix: "secretsmanager",
		SigningName:  "secretsmanager",
		JSONVersion:  "1.1",
		Operations:   map[string]Operation{"GetSecretValue": m.getSecretValue},
	})
	return m
}

// Put adds a secret, or a new version of an existing one, and returns the
// secret's ARN and the new version's ID.
func (m *SecretsManager) Put(sec Secret) (arn, versionID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	region := sec.Region
	if region == "" {
		region = Region
	}
	key := region + "/" + sec.Name
	fs := m.secrets[key]
	if fs == nil {
		// AWS appends six random characters to a secret's ARN; derive them
		// from the name so tests can predict the ARN.
		sum := sha256.Sum256([]byte(sec.Name))
		fs = &fakeSecret{
			name: sec.Name,
			arn:  fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, AccountID, sec.Name, hex.EncodeToString(sum[:3])),
		}
		m.secrets[key] = fs
	}
	m.nextID++
	v := &secretVersion{
		id:      fmt.Sprintf("%08x-0000-4000-8000-%012x", m.nextID, m.nextID),
		stages:  sec.Stages,
		str:     sec.String,
		binary:  sec.Binary,
		created: time.Unix(1767225600+int64(m.nextID), 0),
	}
	if len(v.stages) == 0 {
		v.stages = []string{stageCurrent}
		for _, old := range fs.versions {
			old.stages = slices.DeleteFunc(old.stages, func(s string) bool { return s == stagePrevious })
			if slices.Contains(old.stages, stageCurrent) {
				old.stages = append(old.stages, stagePrevious)
			}
		}
	}
	for _, old := range fs.versions {
		old.stages = slices.DeleteFunc(old.stages, func(s string) bool { return slices.Contains(v.stages, s) })
	}
	fs.versions = append(fs.versions, v)
	return fs.arn, v.id
}

// Deny makes GetSecretValue of the secret named id (a name or ARN) fail with
// AccessDeniedException, as when the caller's IAM policy does not allow it.
func (m *SecretsManager) Deny(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.denied[id] = true
}

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

type getSecretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  *string  `json:",omitempty"`
	SecretBinary  []byte   `json:",omitempty"`
	VersionStages []string `json:",omitempty"`
	CreatedDate   float64
}

func (m *SecretsManager) getSecretValue(_ context.Context, call Call) (any, error) {
	var in getSecretValueInput
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	if in.SecretId == "" {
		return nil, &APIError{Type: "ValidationException", invalid: true,
			Message: "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null"}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.denied[in.SecretId] {
		return nil, &APIError{Type: "AccessDeniedException", Message: fmt.Sprintf(
			"User: arn:aws:sts::%s:assumed-role/ferry-agent/i-0 is not authorized to perform: "+
				"secretsmanager:GetSecretValue on resource: %s because no identity-based policy allows "+
				"the secretsmanager:GetSecretValue action", AccountID, in.SecretId)}
	}
	fs := m.find(call.Region, in.SecretId)
	if fs == nil {
		return nil, &APIError{Type: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
	}
	v, apiErr := fs.version(in.VersionId, in.VersionStage)
	if apiErr != nil {
		return nil, apiErr
	}
	out := getSecretValueOutput{
		ARN:           fs.arn,
		Name:          fs.name,
		VersionId:     v.id,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   epochSeconds(v.created),
	}
	if v.binary != nil {
		out.SecretBinary = v.binary
	} else {
		out.SecretString = &v.str
	}
	return out, nil
}

// find returns the secret that id (a name or full ARN) names in region.
func (m *SecretsManager) find(region, id string) *fakeSecret {
	if !strings.HasPrefix(id, "arn:") {
		return m.secrets[region+"/"+id]
	}
	for _, fs := range m.secrets {
		if fs.arn == id && strings.Split(id, ":")[3] == region {
			return fs
		}
	}
	return nil
}

func (fs *fakeSecret) version(id, stage string) (*secretVersion, *APIError) {
	if id == "" && stage == "" {
		stage = stageCurrent
	}
	for _, v := range fs.versions {
		if id != "" && v.id != id {
			continue
		}
		if stage != "" && !slices.Contains(v.stages, stage) {
			continue
		}
		return v, nil
	}
	if id != "" {
		return nil, &APIError{Type: "ResourceNotFoundException",
			Message: fmt.Sprintf("Secrets Manager can't find the specified secret value for VersionId: %s", id)}
	}
	return nil, &APIError{Type: "ResourceNotFoundException",
		Message: fmt.Sprintf("Secrets Manager can't find the specified secret value for staging label: %s", stage)}
}
