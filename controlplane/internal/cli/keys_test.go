package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// fakeSigningKeys serves SigningKeyService from memory on loopback.
type fakeSigningKeys struct {
	url string

	mu        sync.Mutex
	keys      []*ferryv1.SigningKey
	rotations []*ferryv1.RotateSigningKeyRequest
	lists     []*ferryv1.ListSigningKeysRequest
}

func newFakeSigningKeys(t *testing.T) *fakeSigningKeys {
	t.Helper()
	f := &fakeSigningKeys{keys: []*ferryv1.SigningKey{
		{
			Id: "fk_retiredkey", PublicKey: bytes.Repeat([]byte{1}, 32), State: ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED,
			CreateTime: ts(0), ActivateTime: ts(0), RetireTime: ts(2 * time.Hour),
		},
		{
			Id: "fk_previousky", PublicKey: bytes.Repeat([]byte{2}, 32), State: ferryv1.SigningKeyState_SIGNING_KEY_STATE_PREVIOUS,
			CreateTime: ts(time.Hour), ActivateTime: ts(time.Hour),
		},
		{
			Id: "fk_activekeyy", PublicKey: bytes.Repeat([]byte{3}, 32), State: ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE,
			CreateTime: ts(3 * time.Hour), ActivateTime: ts(3 * time.Hour),
		},
	}}
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewSigningKeyServiceHandler(f, connect.WithInterceptors(fakeAuth{f: &fakeServer{}})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeSigningKeys) RotateSigningKey(
	_ context.Context, req *connect.Request[ferryv1.RotateSigningKeyRequest],
) (*connect.Response[ferryv1.RotateSigningKeyResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotations = append(f.rotations, req.Msg)
	delay := req.Msg.GetActivateDelay().AsDuration()
	k := &ferryv1.SigningKey{
		Id: "fk_rotatedkey", PublicKey: bytes.Repeat([]byte{4}, 32), State: ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE,
		CreateTime: ts(4 * time.Hour), ActivateTime: ts(4*time.Hour + delay),
	}
	if delay > 0 {
		k.State = ferryv1.SigningKeyState_SIGNING_KEY_STATE_PENDING
	}
	f.keys = append(f.keys, k)
	return connect.NewResponse(&ferryv1.RotateSigningKeyResponse{Key: k}), nil
}

func (f *fakeSigningKeys) ListSigningKeys(
	_ context.Context, req *connect.Request[ferryv1.ListSigningKeysRequest],
) (*connect.Response[ferryv1.ListSigningKeysResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, req.Msg)
	resp := &ferryv1.ListSigningKeysResponse{}
	for _, k := range f.keys {
		if k.GetRetireTime() == nil || req.Msg.GetIncludeRetired() {
			resp.Keys = append(resp.Keys, k)
		}
	}
	return connect.NewResponse(resp), nil
}

func (f *fakeSigningKeys) RetireSigningKey(
	_ context.Context, req *connect.Request[ferryv1.RetireSigningKeyRequest],
) (*connect.Response[ferryv1.RetireSigningKeyResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.GetId() == req.Msg.GetId() {
			if k.GetState() == ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE {
				return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("the key is the active signing key; rotate first"))
			}
			k.State, k.RetireTime = ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED, ts(5*time.Hour)
			return connect.NewResponse(&ferryv1.RetireSigningKeyResponse{Key: k}), nil
		}
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("no such signing key: "+req.Msg.GetId()))
}

func (f *fakeSigningKeys) run(t *testing.T, args ...string) cliResult {
	t.Helper()
	srv := &fakeServer{url: f.url}
	return srv.run(t, nil, args...)
}

func b64(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestKeysList(t *testing.T) {
	t.Parallel()
	f := newFakeSigningKeys(t)
	tests := []struct {
		name string
		args []string
		// agent marks trusted-keys output, whose comment header holds the
		// server URL and the time.
		agent bool
		want  string
	}{
		{
			name: "table",
			args: []string{"keys", "ls"},
			want: "ID             STATE     CREATED              ACTIVATES            RETIRED  PUBLIC KEY\n" +
				"fk_previousky  PREVIOUS  2024-05-01 13:00:00  2024-05-01 13:00:00  -        " + b64(2) + "\n" +
				"fk_activekeyy  ACTIVE    2024-05-01 15:00:00  2024-05-01 15:00:00  -        " + b64(3) + "\n",
		},
		{
			name: "table with retired keys",
			args: []string{"keys", "ls", "--all"},
			want: "ID             STATE     CREATED              ACTIVATES            RETIRED              PUBLIC KEY\n" +
				"fk_retiredkey  RETIRED   2024-05-01 12:00:00  2024-05-01 12:00:00  2024-05-01 14:00:00  " + b64(1) + "\n" +
				"fk_previousky  PREVIOUS  2024-05-01 13:00:00  2024-05-01 13:00:00  -                    " + b64(2) + "\n" +
				"fk_activekeyy  ACTIVE    2024-05-01 15:00:00  2024-05-01 15:00:00  -                    " + b64(3) + "\n",
		},
		{
			name:  "agent ignores --all",
			args:  []string{"keys", "ls", "--output", "agent", "--all"},
			agent: true,
			want: "fk_previousky " + b64(2) + "  # PREVIOUS, activates 2024-05-01T13:00:00Z\n" +
				"fk_activekeyy " + b64(3) + "  # ACTIVE, activates 2024-05-01T15:00:00Z\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := f.run(t, tt.args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			got := res.stdout
			if tt.agent {
				var lines []string
				for _, l := range strings.SplitAfter(got, "\n") {
					if !strings.HasPrefix(l, "#") {
						lines = append(lines, l)
					}
				}
				if !strings.Contains(got, "# Work-order signing keys of the Ferry server at "+f.url) {
					t.Errorf("header does not name the server:\n%s", got)
				}
				got = strings.Join(lines, "")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeysListJSON(t *testing.T) {
	t.Parallel()
	f := newFakeSigningKeys(t)
	res := f.run(t, "keys", "ls", "--output", "json")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), res.stdout)
	}
	k := new(ferryv1.SigningKey)
	if err := protojson.Unmarshal([]byte(lines[1]), k); err != nil {
		t.Fatal(err)
	}
	if k.GetId() != "fk_activekeyy" || !bytes.Equal(k.GetPublicKey(), bytes.Repeat([]byte{3}, 32)) {
		t.Errorf("second line decodes to %v", k)
	}
}

func TestKeysRotate(t *testing.T) {
	t.Parallel()
	f := newFakeSigningKeys(t)
	res := f.run(t, "keys", "rotate")
	if res.code != 0 || !strings.Contains(res.stdout, "Created signing key fk_rotatedkey; it signs work orders from now on") {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	res = f.run(t, "keys", "rotate", "--activate-in", "24h")
	if res.code != 0 || !strings.Contains(res.stdout, "from 2024-05-02 16:00:00") ||
		!strings.Contains(res.stdout, "ferry keys ls --output agent") {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	f.mu.Lock()
	delays := []time.Duration{f.rotations[0].GetActivateDelay().AsDuration(), f.rotations[1].GetActivateDelay().AsDuration()}
	f.mu.Unlock()
	if diff := cmp.Diff([]time.Duration{0, 24 * time.Hour}, delays); diff != "" {
		t.Errorf("delays sent (-want +got):\n%s", diff)
	}
	res = f.run(t, "keys", "rotate", "--output", "json")
	k := new(ferryv1.SigningKey)
	if err := protojson.Unmarshal([]byte(strings.TrimSpace(res.stdout)), k); err != nil || k.GetId() != "fk_rotatedkey" {
		t.Errorf("JSON output %q: %v", res.stdout, err)
	}
}

func TestKeysRetire(t *testing.T) {
	t.Parallel()
	f := newFakeSigningKeys(t)
	res := f.run(t, "keys", "retire", "fk_previousky")
	if res.code != 0 || res.stdout != "signing key fk_previousky retired; remove it from the agents' trusted keys\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	res = f.run(t, "keys", "retire", "fk_activekeyy")
	if res.code != 1 || res.stderr != "ferry: retire signing key: the key is the active signing key; rotate first\n" {
		t.Errorf("retiring the active key: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestKeysUsageErrors(t *testing.T) {
	t.Parallel()
	f := newFakeSigningKeys(t)
	// Cleanup runs after the parallel subtests.
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.rotations)+len(f.lists) != 0 {
			t.Errorf("usage errors reached the server: %d rotations, %d lists", len(f.rotations), len(f.lists))
		}
	})
	tests := []struct {
		args []string
		want string
	}{
		{args: []string{"keys", "ls", "--output", "yaml"}, want: "--output must be table, json or agent"},
		{args: []string{"keys", "rotate", "--activate-in", "-1h"}, want: "must not be negative"},
		{args: []string{"keys", "retire"}, want: "missing ID"},
		{args: []string{"keys", "rotate", "extra"}, want: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			res := f.run(t, tt.args...)
			if res.code != exitUsage || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", res.code, res.stderr, exitUsage, tt.want)
			}
		})
	}
}
