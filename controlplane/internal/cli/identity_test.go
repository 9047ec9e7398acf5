package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// testSessionToken is the session the fake login hands out.
const testSessionToken = "ferry_ss_abcdefghijkm_0123456789abcdefghijkmnopqrstuvwxyz234567"

// fakeIdentity serves Login (setting the session cookie), Logout and
// ListAPIKeys, recording the Authorization header of each call.
type fakeIdentity struct {
	ferryv1connect.UnimplementedAuthServiceHandler
	ferryv1connect.UnimplementedAPIKeyServiceHandler

	mu       sync.Mutex
	password string
	auths    []string
}

func (f *fakeIdentity) Login(_ context.Context, req *connect.Request[ferryv1.LoginRequest]) (*connect.Response[ferryv1.LoginResponse], error) {
	f.mu.Lock()
	f.password = req.Msg.GetPassword()
	f.mu.Unlock()
	resp := connect.NewResponse(&ferryv1.LoginResponse{
		User: &ferryv1.User{Email: req.Msg.GetEmail(), Role: "developer"}, Workspace: "default",
	})
	resp.Header().Add("Set-Cookie", (&http.Cookie{Name: sessionCookieName, Value: testSessionToken, HttpOnly: true}).String())
	return resp, nil
}

func (f *fakeIdentity) Logout(_ context.Context, req *connect.Request[ferryv1.LogoutRequest]) (*connect.Response[ferryv1.LogoutResponse], error) {
	f.record(req.Header())
	return connect.NewResponse(&ferryv1.LogoutResponse{}), nil
}

func (f *fakeIdentity) ListAPIKeys(_ context.Context, req *connect.Request[ferryv1.ListAPIKeysRequest]) (*connect.Response[ferryv1.ListAPIKeysResponse], error) {
	f.record(req.Header())
	return connect.NewResponse(&ferryv1.ListAPIKeysResponse{Keys: []*ferryv1.APIKey{{Id: "k1", Name: "ci", Prefix: "abcd", Role: "viewer"}}}), nil
}

func (f *fakeIdentity) record(h http.Header) {
	f.mu.Lock()
	f.auths = append(f.auths, h.Get("Authorization"))
	f.mu.Unlock()
}

func TestLoginKeepsSession(t *testing.T) {
	t.Parallel()
	fake := &fakeIdentity{}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewAuthServiceHandler(fake))
	mux.Handle(ferryv1connect.NewAPIKeyServiceHandler(fake))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dataDir := t.TempDir()
	vars := map[string]string{"FERRY_SERVER": srv.URL, "FERRY_DATA_DIR": dataDir, "TZ": "UTC"}
	run := func(stdin string, args ...string) (string, int) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), Env{
			Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin), Getenv: func(k string) string { return vars[k] },
		}, args)
		return out.String() + errOut.String(), code
	}

	out, code := run("s3cret-password\n", "login", "--email", "ada@example.com")
	if code != 0 || !strings.Contains(out, "Logged in to workspace default as ada@example.com") {
		t.Fatalf("ferry login = %d, %q", code, out)
	}
	if fake.password != "s3cret-password" {
		t.Errorf("server got password %q, want it without the newline", fake.password)
	}
	path := filepath.Join(dataDir, sessionFileName)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file = %v, %v; want mode 0600", fi, err)
	}
	if strings.Contains(out, testSessionToken) {
		t.Error("ferry login printed the session token")
	}

	if out, code := run("", "apikey", "ls"); code != 0 || !strings.Contains(out, "ci") {
		t.Fatalf("ferry apikey ls = %d, %q", code, out)
	}
	if out, code := run("", "logout"); code != 0 {
		t.Fatalf("ferry logout = %d, %q", code, out)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("session file after logout: %v, want it gone", err)
	}
	want := "Bearer " + testSessionToken
	if len(fake.auths) != 2 || fake.auths[0] != want || fake.auths[1] != want {
		t.Errorf("Authorization headers = %q, want the session token twice", fake.auths)
	}
}
