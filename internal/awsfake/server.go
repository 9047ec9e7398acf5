// Package awsfake is an in-process fake of AWS services that speak the AWS
// JSON protocol (1.0 and 1.1), served on loopback for tests. Tests drive it
// through the real AWS SDK for Go v2, pointed at [Server.URL] with static
// test credentials, so the SDK's serialization, signing, error decoding and
// retries are all exercised.
//
// A [Server] routes each request by its X-Amz-Target header to a registered
// [Service]; [NewSecretsManager] and [NewSSM] register the fakes of AWS
// Secrets Manager and Systems Manager Parameter Store, [NewECS] and
// [NewLogs] those of Amazon ECS tasks and CloudWatch Logs. Another service is
// added by registering a Service with its own operations. Faults (errors
// such as throttling, and delays) are injected per target with
// [Server.Inject]. Requests the real API would refuse (a missing required
// field, a value out of range) are answered as AWS answers them and
// recorded, so that a test can assert the SDK sent none
// ([Server.InvalidRequests]). What an ECS task does once started can be
// scripted per task ([ECS.Script]).
//
// The fake checks each request's SigV4 credential scope (access key,
// region, service) but not the signature itself. It must only ever listen on
// loopback; it is for tests and never talks to AWS.
package awsfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Test credentials and location the fake expects by default.
const (
	// AccessKeyID is the access key of the static test credentials.
	AccessKeyID = "AKIDFERRYTEST0000000"
	// SecretAccessKey is the secret key of the static test credentials.
	SecretAccessKey = "ferry-test-secret-access-key"
	// Region is the region tests use unless they name another.
	Region = "us-east-1"
	// AccountID is the account that owns every fake resource.
	AccountID = "123456789012"
)

// maxRequestBytes bounds a request body; AWS's own limits are lower for the
// operations faked here.
const maxRequestBytes = 1 << 20

// Operation handles one call of an operation. It returns a value that is
// encoded as the JSON response, or an error: an [*APIError] becomes an AWS
// error response, any other error a 500 InternalFailure.
type Operation func(ctx context.Context, call Call) (any, error)

// Service is an AWS service that speaks the AWS JSON protocol.
type Service struct {
	// TargetPrefix is the part of X-Amz-Target before the dot, such as
	// "secretsmanager" or "AmazonSSM".
	TargetPrefix string
	// SigningName is the service in the SigV4 credential scope, such as
	// "secretsmanager" or "ssm".
	SigningName string
	// JSONVersion is "1.0" or "1.1", as in the Content-Type
	// application/x-amz-json-1.1.
	JSONVersion string
	// Operations maps an operation name, the part of X-Amz-Target after the
	// dot, to its handler.
	Operations map[string]Operation
}

// Call is one request the server received.
type Call struct {
	// Target is the X-Amz-Target header, such as
	// "secretsmanager.GetSecretValue".
	Target string
	// Region is the region of the request's credential scope.
	Region string
	// AccessKeyID is the access key of the request's credential scope.
	AccessKeyID string
	// Body is the JSON request body.
	Body []byte
}

// APIError is an AWS error response.
type APIError struct {
	// Status is the HTTP status; zero means 400.
	Status int
	// Type is the error code written as __type, such as
	// "ResourceNotFoundException".
	Type string
	// Message is the human-readable message; it may be empty.
	Message string

	// invalid marks the answer to a request that the real API would refuse
	// whatever the state of its resources (a missing required field, a value
	// out of range); the server records such requests, see
	// [Server.InvalidRequests].
	invalid bool
}

// InvalidRequest is a request the server refused as the real API would
// refuse it whatever the state of its resources: not the AWS JSON protocol,
// not signed for the service, or with a field missing or out of range.
type InvalidRequest struct {
	// Target is the request's X-Amz-Target header.
	Target string
	// Body is the request body, empty when it could not be read.
	Body []byte
	// Error is the error the server answered with.
	Error string
}

// Error returns the type and message.
func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// Fault changes how the server answers calls of one target.
type Fault struct {
	// Target is the X-Amz-Target the fault applies to, such as
	// "AmazonSSM.GetParameter".
	Target string
	// Times is how many calls the fault affects; zero means every call until
	// [Server.ClearFaults].
	Times int
	// Delay holds each affected call this long before it is answered, or
	// until the client gives up.
	Delay time.Duration
	// Err, when set, is returned instead of calling the operation.
	Err *APIError
}

// Server is a fake AWS endpoint on loopback. It is safe for concurrent use.
type Server struct {
	// URL is the base endpoint to give the SDK, such as http://127.0.0.1:4321.
	URL string

	srv *httptest.Server

	mu        sync.Mutex
	services  map[string]Service // by TargetPrefix
	faults    []*Fault
	calls     []Call
	invalid   []InvalidRequest
	accessKey string
}

// Start starts a server on loopback and closes it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{services: map[string]Service{}, accessKey: AccessKeyID}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Register adds a service, replacing one with the same target prefix.
func (s *Server) Register(svc Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[svc.TargetPrefix] = svc
}

// Inject adds a fault. Faults apply in the order they were added; a call is
// affected by the first fault of its target that has calls left.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Throttle makes the next n calls of target fail with ThrottlingException.
func (s *Server) Throttle(target string, n int) {
	s.Inject(Fault{Target: target, Times: n, Err: &APIError{Type: "ThrottlingException", Message: "Rate exceeded"}})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns the calls received for target, in order, including those
// answered by a fault. An empty target returns every call.
func (s *Server) Calls(target string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if target == "" || c.Target == target {
			out = append(out, c)
		}
	}
	return out
}

// InvalidRequests returns the requests the server refused as invalid for
// the real API, in order. A test driving the fake through the real SDK
// expects none: each one is a request AWS itself would have refused.
// Refusals that depend on state (a task or secret that does not exist) and
// injected faults are not included.
func (s *Server) InvalidRequests() []InvalidRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.invalid)
}

// recordInvalid keeps the request of an answer marked invalid.
func (s *Server) recordInvalid(target string, body []byte, e *APIError) {
	if !e.invalid {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalid = append(s.invalid, InvalidRequest{Target: target, Body: body, Error: e.Error()})
}

// Config returns an SDK configuration that reaches this server with the
// static test credentials in [Region].
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  aws.NewCredentialsCache(testCredentials()),
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   s.srv.Client(),
	}
}

// LoadOptions returns options for config.LoadDefaultConfig that reach this
// server with the static test credentials in [Region], and that ignore the
// shared configuration files of the machine running the test.
func (s *Server) LoadOptions() []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithRegion(Region),
		config.WithCredentialsProvider(testCredentials()),
		config.WithBaseEndpoint(s.URL),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	}
}

func testCredentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Source: "awsfake"}, nil
	})
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	call, svc, op, apiErr := s.readCall(r)
	if apiErr != nil {
		apiErr.invalid = true
		s.recordInvalid(r.Header.Get("X-Amz-Target"), call.Body, apiErr)
		writeError(w, apiErr)
		return
	}

	s.mu.Lock()
	s.calls = append(s.calls, call)
	fault := s.takeFault(call.Target)
	s.mu.Unlock()

	if fault != nil && fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil && fault.Err != nil {
		writeError(w, fault.Err)
		return
	}

	out, err := op(r.Context(), call)
	if err != nil {
		apiErr, ok := err.(*APIError)
		if !ok {
			apiErr = &APIError{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: err.Error()}
		}
		s.recordInvalid(call.Target, call.Body, apiErr)
		writeError(w, apiErr)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(w, &APIError{Status: http.StatusInternalServerError, Type: "InternalFailure", Message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-"+svc.JSONVersion)
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-000000000000")
	_, _ = w.Write(body)
}

// readCall checks the request's protocol and credentials and finds its
// operation.
func (s *Server) readCall(r *http.Request) (Call, Service, Operation, *APIError) {
	if r.Method != http.MethodPost {
		return Call{}, Service{}, nil, &APIError{Status: http.StatusMethodNotAllowed, Type: "UnknownOperationException",
			Message: "the AWS JSON protocol uses POST"}
	}
	target := r.Header.Get("X-Amz-Target")
	prefix, opName, _ := strings.Cut(target, ".")
	s.mu.Lock()
	svc, ok := s.services[prefix]
	s.mu.Unlock()
	op := svc.Operations[opName]
	if !ok || op == nil {
		return Call{}, Service{}, nil, &APIError{Type: "UnknownOperationException",
			Message: fmt.Sprintf("no fake for X-Amz-Target %q", target)}
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-"+svc.JSONVersion {
		return Call{}, Service{}, nil, &APIError{Type: "SerializationException",
			Message: fmt.Sprintf("Content-Type %q, want application/x-amz-json-%s", ct, svc.JSONVersion)}
	}
	region, accessKey, apiErr := s.checkAuth(r, svc.SigningName)
	if apiErr != nil {
		return Call{}, Service{}, nil, apiErr
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil || len(body) > maxRequestBytes || !json.Valid(body) {
		return Call{}, Service{}, nil, &APIError{Type: "SerializationException", Message: "request body is not a JSON document"}
	}
	return Call{Target: target, Region: region, AccessKeyID: accessKey, Body: body}, svc, op, nil
}

// checkAuth reads the SigV4 credential scope of the Authorization header:
// AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ssm/aws4_request, ...
func (s *Server) checkAuth(r *http.Request, signingName string) (region, accessKey string, _ *APIError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", "", &APIError{Status: http.StatusForbidden, Type: "MissingAuthenticationTokenException",
			Message: "Missing Authentication Token"}
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=")
	scope, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(scope, "/")
	if !ok || len(parts) != 5 || parts[4] != "aws4_request" || r.Header.Get("X-Amz-Date") == "" {
		return "", "", &APIError{Status: http.StatusForbidden, Type: "IncompleteSignatureException",
			Message: "Authorization header is not a SigV4 signature"}
	}
	if parts[0] != s.accessKey {
		return "", "", &APIError{Status: http.StatusForbidden, Type: "UnrecognizedClientException",
			Message: "The security token included in the request is invalid."}
	}
	if parts[3] != signingName {
		return "", "", &APIError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: fmt.Sprintf("Credential should be scoped to correct service: '%s'.", signingName)}
	}
	if parts[2] == "" {
		return "", "", &APIError{Status: http.StatusForbidden, Type: "InvalidSignatureException",
			Message: "Credential should be scoped to a valid region."}
	}
	return parts[2], parts[0], nil
}

// takeFault returns the first fault of target with calls left, counting this
// call against it. s.mu must be held.
func (s *Server) takeFault(target string) *Fault {
	for i, f := range s.faults {
		if f.Target != target {
			continue
		}
		if f.Times == 0 {
			return f
		}
		f.Times--
		if f.Times == 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

func writeError(w http.ResponseWriter, e *APIError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body := map[string]string{"__type": e.Type}
	if e.Message != "" {
		body["message"] = e.Message
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode unmarshals a request body into v, answering a malformed body as AWS
// does.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{Type: "SerializationException", Message: err.Error(), invalid: true}
	}
	return nil
}

// epochSeconds writes t as the AWS JSON protocol writes timestamps.
func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}
