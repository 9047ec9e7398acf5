package awsfake

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Targets of the Systems Manager fake.
const (
	// TargetGetParameter is the X-Amz-Target of GetParameter.
	TargetGetParameter = "AmazonSSM.GetParameter"
)

// Parameter types of Systems Manager Parameter Store.
const (
	// ParameterString is a plain text parameter.
	ParameterString = "String"
	// ParameterStringList is a comma-separated list.
	ParameterStringList = "StringList"
	// ParameterSecureString is a parameter encrypted with KMS.
	ParameterSecureString = "SecureString"
)

// Parameter is a parameter, or a new version of one, for [SSM.Put].
type Parameter struct {
	// Name is the parameter's name, such as "/prod/db/password".
	Name string
	// Region holds the parameter; empty means [Region].
	Region string
	// Type is [ParameterString], [ParameterStringList] or
	// [ParameterSecureString]; empty means ParameterSecureString.
	Type string
	// Value is the parameter's value, in plain text.
	Value string
}

// SSM is a fake of AWS Systems Manager Parameter Store's GetParameter. It is
// safe for concurrent use.
type SSM struct {
	mu     sync.Mutex
	params map[string][]Parameter // by region + ":" + name; index i is version i+1
	denied map[string]bool
}

// NewSSM registers a Systems Manager fake on s and returns it.
func NewSSM(s *Server) *SSM {
	p := &SSM{params: map[string][]Parameter{}, denied: map[string]bool{}}
	s.Register(Service{
		TargetPrefix: "AmazonSSM",
		SigningName:  "ssm",
		JSONVersion:  "1.1",
		Operations:   map[string]Operation{"GetParameter": p.getParameter},
	})
	return p
}

// Put adds a parameter, or a new version of an existing one, and returns the
// new version's number.
func (p *SSM) Put(param Parameter) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if param.Region == "" {
		param.Region = Region
	}
	if param.Type == "" {
		param.Type = ParameterSecureString
	}
	key := param.Region + ":" + param.Name
	p.params[key] = append(p.params[key], param)
	return int64(len(p.params[key]))
}

// Deny makes GetParameter of the named parameter fail with
// AccessDeniedException.
func (p *SSM) Deny(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.denied[name] = true
}

type getParameterInput struct {
	Name           string
	WithDecryption bool
}

type parameterOutput struct {
	Name             string
	Type             string
	Value            string
	Version          int64
	Selector         string `json:",omitempty"`
	ARN              string
	DataType         string
	LastModifiedDate float64
}

func (p *SSM) getParameter(_ context.Context, call Call) (any, error) {
	var in getParameterInput
	if err := decode(call.Body, &in); err != nil {
		return nil, err
	}
	name, selector, hasSelector := strings.Cut(in.Name, ":")
	if name == "" {
		return nil, &APIError{Type: "ValidationException", invalid: true,
			Message: "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.denied[name] {
		return nil, &APIError{Type: "AccessDeniedException", Message: fmt.Sprintf(
			"User: arn:aws:sts::%s:assumed-role/ferry-agent/i-0 is not authorized to perform: "+
				"ssm:GetParameter on resource: %s because no identity-based policy allows the ssm:GetParameter action",
			AccountID, parameterARN(call.Region, name))}
	}
	versions := p.params[call.Region+":"+name]
	if len(versions) == 0 {
		return nil, &APIError{Type: "ParameterNotFound"}
	}
	version := int64(len(versions))
	if hasSelector {
		n, err := strconv.ParseInt(selector, 10, 64)
		if err != nil {
			return nil, &APIError{Type: "ParameterVersionLabelNotFound",
				Message: fmt.Sprintf("this fake supports version selectors only, not the label %s", selector)}
		}
		if n < 1 || n > version {
			return nil, &APIError{Type: "ParameterVersionNotFound", Message: fmt.Sprintf(
				"Systems Manager could not find version %d of %s. Verify the version and try again.", n, name)}
		}
		version = n
	}
	param := versions[version-1]
	out := parameterOutput{
		Name:             name,
		Type:             param.Type,
		Value:            param.Value,
		Version:          version,
		ARN:              parameterARN(call.Region, name),
		DataType:         "text",
		LastModifiedDate: epochSeconds(time.Unix(1767225600+version, 0)),
	}
	if hasSelector {
		out.Selector = ":" + selector
	}
	if param.Type == ParameterSecureString && !in.WithDecryption {
		// Without decryption AWS returns the KMS ciphertext; a digest stands
		// in for it so the plain value never appears.
		sum := sha256.Sum256([]byte(param.Value))
		out.Value = "AQICAH" + base64.StdEncoding.EncodeToString(sum[:])
	}
	return getParameterOutput{Parameter: out}, nil
}

type getParameterOutput struct {
	Parameter parameterOutput
}

func parameterARN(region, name string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", region, AccountID, strings.TrimPrefix(name, "/"))
}
