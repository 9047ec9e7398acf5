package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

func TestDispatch(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no arguments", args: nil, wantCode: exitUsage, wantStderr: "run start"},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "agent token create"},
		{name: "group", args: []string{"run"}, wantCode: exitUsage, wantStderr: "Usage: ferry run COMMAND"},
		{name: "group help", args: []string{"agent", "token", "-h"}, wantCode: 0, wantStdout: "agent token revoke"},
		{name: "unknown in group", args: []string{"agent", "token", "rotate"}, wantCode: exitUsage, wantStderr: `unknown command "agent token rotate"`},
		{name: "unknown", args: []string{"deploy"}, wantCode: exitUsage, wantStderr: `unknown command "deploy"`},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "ferry "},
		{name: "command help", args: []string{"run", "start", "-h"}, wantCode: 0, wantStdout: "Usage: ferry run start DEPLOYMENT [flags]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := srv.run(t, nil, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d", r.code, tt.wantCode)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	for _, c := range ClientCommands() {
		args := append(strings.Fields(c.Name), "-h")
		r := srv.run(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: ferry "+c.Name) {
			t.Errorf("%s -h: exit %d, stdout %q", c.Name, r.code, r.stdout)
		}
		if c.Name != "version" {
			for _, flag := range []string{"-server", "-api-key", "-data-dir", "-allow-plain-http"} {
				if !strings.Contains(r.stdout, flag) {
					t.Errorf("%s -h does not list %s", c.Name, flag)
				}
			}
		}
	}
	r := srv.run(t, nil, "run", "start", "-h")
	for _, flag := range []string{"-p key=value", "-params-json object", "-idempotency-key key", "-tag", "-watch"} {
		if !strings.Contains(r.stdout, flag) {
			t.Errorf("run start -h does not list %q:\n%s", flag, r.stdout)
		}
	}
}

func TestExtraCommandsAndExitError(t *testing.T) {
	t.Parallel()
	var gotArgs []string
	extra := Command{
		Name:    "server",
		Summary: "run the control plane",
		Run: func(_ context.Context, _ Env, args []string) error {
			gotArgs = args
			return &ExitError{Code: 3, Err: errors.New("database gone")}
		},
	}
	var stderr strings.Builder
	code := Main(t.Context(), Env{Stderr: &stderr}, []string{"server", "--listen", ":0"}, extra)
	if code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if stderr.String() != "ferry: database gone\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
	if strings.Join(gotArgs, " ") != "--listen :0" {
		t.Errorf("server got args %q", gotArgs)
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	closed := httptest.NewServer(nil)
	closed.Close()
	home := t.TempDir()
	keyFile := filepath.Join(home, ".local", "share", "ferry", "admin-api-key")

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{
			name: "refused key",
			env:  map[string]string{"FERRY_API_KEY": "wrong", "HOME": home},
			args: []string{"pool", "ls"},
			want: "ferry: the server refused the API key: set FERRY_API_KEY or --api-key " +
				"(the first start of `ferry server` saved an admin key in " + keyFile + ")\n",
		},
		{
			name: "no key",
			env:  map[string]string{"FERRY_API_KEY": "", "HOME": home},
			args: []string{"pool", "ls"},
			want: "ferry: no API key: set FERRY_API_KEY or --api-key " +
				"(the first start of `ferry server` saved an admin key in " + keyFile + ")\n",
		},
		{
			name: "server down",
			env:  map[string]string{"FERRY_SERVER": closed.URL},
			args: []string{"run", "ls"},
			want: "ferry: cannot reach the Ferry server at " + closed.URL + ": is `ferry server` running?",
		},
		{
			name: "not found passes the server's message",
			args: []string{"deployment", "get", "missing"},
			want: "ferry: get deployment: deployment \"missing\" not found\n",
		},
		{
			name: "unimplemented",
			args: []string{"run", "history", okRunID},
			want: "ferry: list run state changes: the server at " + srv.url + " does not support this call",
		},
		{
			name: "clear text to a remote host",
			env:  map[string]string{"FERRY_SERVER": "http://ferry.example.com"},
			args: []string{"pool", "ls"},
			want: "ferry: refusing to send the API key in clear text to ferry.example.com: use https://, or pass --allow-plain-http\n",
		},
		{
			name: "malformed server URL",
			env:  map[string]string{"FERRY_SERVER": "ferry:8080"},
			args: []string{"pool", "ls"},
			want: `ferry: server URL "ferry:8080": want http://HOST[:PORT] or https://HOST[:PORT]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := srv.run(t, tt.env, tt.args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if !strings.HasPrefix(r.stderr, tt.want) {
				t.Errorf("stderr = %q\nwant prefix %q", r.stderr, tt.want)
			}
		})
	}
}

func TestExplainCodes(t *testing.T) {
	t.Parallel()
	c := &client{server: "https://ferry.test", keyGiven: true}
	tests := []struct {
		code connect.Code
		want string
	}{
		{connect.CodeInvalidArgument, "start run: bad parameters"},
		{connect.CodeFailedPrecondition, "start run: bad parameters"},
		{connect.CodeAlreadyExists, "start run: bad parameters"},
		{connect.CodePermissionDenied, "start run: permission denied: bad parameters"},
		{connect.CodeInternal, "start run: the server failed: bad parameters"},
		{connect.CodeDeadlineExceeded, "start run: the Ferry server at https://ferry.test did not answer in time"},
		{connect.CodeCanceled, "start run: interrupted"},
	}
	for _, tt := range tests {
		cerr := connect.NewError(tt.code, errors.New("bad parameters"))
		err := c.explain("start run", cerr)
		if err.Error() != tt.want {
			t.Errorf("%v: %q, want %q", tt.code, err, tt.want)
		}
		if connect.CodeOf(err) != tt.code {
			t.Errorf("%v: the explained error lost its code", tt.code)
		}
	}
	if err := c.explain("x", errors.New("plain")); err.Error() != "x: plain" {
		t.Errorf("plain error explained as %q", err)
	}
}

func TestAPIKeySources(t *testing.T) {
	t.Parallel()
	writeKey := func(t *testing.T, dir string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "admin-api-key"), []byte(testAPIKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dataDir := t.TempDir()
	writeKey(t, dataDir)
	home := t.TempDir()
	writeKey(t, filepath.Join(home, ".local", "share", "ferry"))
	notAFile := t.TempDir()
	if err := os.Mkdir(filepath.Join(notAFile, "admin-api-key"), 0o700); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "FERRY_DATA_DIR file", env: map[string]string{"FERRY_API_KEY": "", "FERRY_DATA_DIR": dataDir}},
		{name: "--data-dir file", env: map[string]string{"FERRY_API_KEY": ""}, args: []string{"--data-dir", dataDir}},
		{name: "HOME default", env: map[string]string{"FERRY_API_KEY": "", "HOME": home}},
		{name: "flag beats env", env: map[string]string{"FERRY_API_KEY": "wrong"}, args: []string{"--api-key", testAPIKey}},
		{name: "env beats file", env: map[string]string{"FERRY_API_KEY": "wrong", "FERRY_DATA_DIR": dataDir}, wantCode: 1, wantErr: "refused the API key"},
		{name: "unreadable file", env: map[string]string{"FERRY_API_KEY": "", "FERRY_DATA_DIR": notAFile}, wantCode: 1, wantErr: "read API key file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeServer(t)
			r := srv.run(t, tt.env, append([]string{"pool", "ls"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			for _, h := range srv.authHeaders {
				if tt.wantCode == 0 && h != "Bearer "+testAPIKey {
					t.Errorf("Authorization = %q, want the key from the file or flag", h)
				}
			}
		})
	}
}

func TestAgentTokenCreate(t *testing.T) {
	t.Parallel()
	srv := newFakeServer(t)
	r := srv.run(t, nil, "agent", "token", "create", "--pool", "local", "--name", "laptop")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r.stdout != "fat_ab12_secretsecret\n" {
		t.Errorf("stdout = %q, want the secret alone", r.stdout)
	}
	if !strings.Contains(r.stderr, "it is not shown again") || !strings.Contains(r.stderr, "tok-1") {
		t.Errorf("stderr %q should name the token and say to store the secret", r.stderr)
	}
	r = srv.run(t, nil, "agent", "token", "create", "--pool", "local", "--name", "laptop", "--output", "json")
	if want := `{"id":"tok-1","secret":"fat_ab12_secretsecret"}` + "\n"; r.stdout != want {
		t.Errorf("json stdout = %q, want %q", r.stdout, want)
	}
	r = srv.run(t, nil, "agent", "token", "create", "--pool", "local")
	if r.code != exitUsage {
		t.Errorf("without --name: exit %d, want %d", r.code, exitUsage)
	}
}

func TestParseInterleavedFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantPos []string
		wantTag []string
	}{
		{[]string{"d", "--tag", "a"}, []string{"d"}, []string{"a"}},
		{[]string{"--tag", "a", "d", "--tag", "b"}, []string{"d"}, []string{"a", "b"}},
		{[]string{"--", "-d"}, []string{"-d"}, nil},
		{[]string{"--tag", "a", "--", "--tag"}, []string{"--tag"}, []string{"a"}},
	}
	for _, tt := range tests {
		f := newFlags("x", "D", "")
		var tags stringList
		f.Var(&tags, "tag", "")
		pos, err := f.parse(Env{}.normalize(), tt.args, "D")
		if err != nil {
			t.Errorf("parse(%q): %v", tt.args, err)
			continue
		}
		if fmt.Sprint(pos) != fmt.Sprint(tt.wantPos) || fmt.Sprint([]string(tags)) != fmt.Sprint(tt.wantTag) {
			t.Errorf("parse(%q) = %q, tags %q; want %q, %q", tt.args, pos, tags, tt.wantPos, tt.wantTag)
		}
	}
}
