package policystore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/notify"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
)

// testBundle is a Store on a fresh database with two workspaces.
type testBundle struct {
	st    *store.Store
	clock *clock.Fake
	ws    uuid.UUID
	other uuid.UUID
}

func setup(t *testing.T) (*Store, testBundle) {
	t.Helper()
	st := store.New(dbtest.Pool(t))
	b := testBundle{st: st, clock: clock.NewFake(time.Date(2025, 3, 7, 9, 0, 0, 0, time.UTC))}
	for _, id := range []*uuid.UUID{&b.ws, &b.other} {
		row, err := st.Q.WorkspaceInsert(context.Background(), db.WorkspaceInsertParams{ID: uuid.New(), Name: uuid.NewString(), Now: b.clock.Now()})
		if err != nil {
			t.Fatalf("insert workspace: %v", err)
		}
		*id = row.ID
	}
	return New(st, b.clock, stubBuiltinFunc), b
}

func mustUpload(t *testing.T, s *Store, ws uuid.UUID, name, source string) UploadResult {
	t.Helper()
	res, err := s.Upload(context.Background(), ws, KindAuthz, name, source, "apikey:tester")
	if err != nil {
		t.Fatalf("Upload(%s): %v", name, err)
	}
	return res
}

const saturdayPolicy = `package ferry.authz.workspace

deny contains "no writes on Saturday" if {
	input.action == "write"
	input.day == "saturday"
}
`

func TestUploadAndActivate(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()

	first := mustUpload(t, s, b.ws, "weekend", fridayPolicy)
	if !first.Created || first.Version.Version != 1 || first.Policy.LatestVersion != 1 || first.Policy.ActiveVersion != 0 {
		t.Fatalf("first upload: %+v, want created version 1, inactive", first)
	}
	again := mustUpload(t, s, b.ws, "weekend", fridayPolicy)
	if again.Created || again.Version.Version != 1 {
		t.Fatalf("same source again: %+v, want version 1 not created", again)
	}
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "weekend", 1); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	second := mustUpload(t, s, b.ws, "weekend", saturdayPolicy)
	if !second.Created || second.Version.Version != 2 || second.Policy.ActiveVersion != 1 {
		t.Fatalf("second upload: %+v, want version 2 with version 1 still active", second)
	}

	p, versions, err := s.Get(ctx, b.ws, KindAuthz, "weekend")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if p.LatestVersion != 2 || p.ActiveVersion != 1 {
		t.Errorf("policy %+v, want latest 2, active 1", p)
	}
	var nums []int32
	for _, v := range versions {
		nums = append(nums, v.Version)
		if v.Source != "" || v.CreatedBy != "apikey:tester" || len(v.SHA256) != 64 {
			t.Errorf("version %+v: want no source, the creator and a hex digest", v)
		}
	}
	if diff := cmp.Diff([]int32{2, 1}, nums); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	v, err := s.GetVersion(ctx, b.ws, KindAuthz, "weekend", 0)
	if err != nil || v.Version != 1 || v.Source != fridayPolicy {
		t.Errorf("GetVersion(0) = %d, %v; want the active version 1 with its source", v.Version, err)
	}

	list, err := s.List(ctx, b.ws, "")
	if err != nil || len(list) != 1 || list[0].Name != "weekend" {
		t.Errorf("List = %+v, %v; want the one policy", list, err)
	}
	if list, err := s.List(ctx, b.ws, KindAdmission); err != nil || len(list) != 0 {
		t.Errorf("List(admission) = %+v, %v; want none", list, err)
	}

	p, err = s.Deactivate(ctx, b.ws, KindAuthz, "weekend")
	if err != nil || p.ActiveVersion != 0 {
		t.Fatalf("Deactivate = %+v, %v; want inactive", p, err)
	}
	if mods, _, err := s.WorkspaceModules(KindAuthz)(ctx, b.ws); err != nil || len(mods) != 0 {
		t.Errorf("modules after deactivation = %v, %v; want none", mods, err)
	}
}

func TestUploadRejectsBadRego(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		source string
		want   string
	}{
		{"syntax", "package ferry.authz.workspace\n\ndeny contains msg if {\n  msg := \n}\n", "workspace/bad.rego:5:1: rego_parse_error"},
		{"http.send", "package ferry.authz.workspace\n\nx := http.send({})\n", "workspace/bad.rego:3:6: ferry_policy_error: http.send may not be called"},
		{"type", "package ferry.authz.workspace\n\nx := upper(1)\n", "workspace/bad.rego:3:6: rego_type_error"},
	}
	for _, tt := range tests {
		_, err := s.Upload(ctx, b.ws, KindAuthz, "bad", tt.source, "apikey:tester")
		var ce *CompileError
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("%s: Upload got %v, want a *CompileError", tt.name, err)
		}
		if got := ce.Problems[0].String(); len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
			t.Errorf("%s: first problem %q, want it to start with %q", tt.name, got, tt.want)
		}
	}
	if list, err := s.List(ctx, b.ws, ""); err != nil || len(list) != 0 {
		t.Errorf("List after rejected uploads = %+v, %v; want nothing stored", list, err)
	}
}

func TestActivateChecksTheWholeSet(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	mustUpload(t, s, b.ws, "a", "package ferry.authz.workspace\n\nlimit := 1\n")
	mustUpload(t, s, b.ws, "b", "package ferry.authz.workspace\n\nlimit(x) := x\n")
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "a", 1); err != nil {
		t.Fatalf("Activate(a): %v", err)
	}
	_, err := s.Activate(ctx, b.ws, KindAuthz, "b", 1)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Activate(b): got %v, want a *CompileError", err)
	}
	p, _, err := s.Get(ctx, b.ws, KindAuthz, "b")
	if err != nil || p.ActiveVersion != 0 {
		t.Errorf("b after the failed activation = %+v, %v; want inactive", p, err)
	}
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "a", 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("Activate(a, 2): got %v, want ErrNotFound", err)
	}
}

func TestActivePolicyLimit(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	for i := range MaxActivePolicies + 1 {
		name := fmt.Sprintf("p%d", i)
		mustUpload(t, s, b.ws, name, fmt.Sprintf("package ferry.authz.workspace\n\ndeny contains \"%d\" if input.n == %d\n", i, i))
		_, err := s.Activate(ctx, b.ws, KindAuthz, name, 1)
		switch {
		case i < MaxActivePolicies && err != nil:
			t.Fatalf("Activate(%s): %v", name, err)
		case i == MaxActivePolicies && !errors.Is(err, ErrLimit):
			t.Fatalf("Activate(%s): got %v, want ErrLimit", name, err)
		}
	}
}

func TestVersionsAreImmutable(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	mustUpload(t, s, b.ws, "weekend", fridayPolicy)
	for _, stmt := range []string{
		"UPDATE policy_versions SET source = 'package x'",
		"DELETE FROM policy_versions",
	} {
		if _, err := b.st.Pool.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: succeeded, want the trigger to refuse it", stmt)
		}
	}
	v, err := s.GetVersion(ctx, b.ws, KindAuthz, "weekend", 1)
	if err != nil || v.Source != fridayPolicy {
		t.Errorf("version 1 = %q, %v; want it unchanged", v.Source, err)
	}
}

func TestCrossWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	mustUpload(t, s, b.ws, "weekend", fridayPolicy)
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "weekend", 1); err != nil {
		t.Fatalf("Activate: %v", err)
	}

	if _, _, err := s.Get(ctx, b.other, KindAuthz, "weekend"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get from the other workspace: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetVersion(ctx, b.other, KindAuthz, "weekend", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetVersion from the other workspace: got %v, want ErrNotFound", err)
	}
	if _, err := s.Activate(ctx, b.other, KindAuthz, "weekend", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Activate from the other workspace: got %v, want ErrNotFound", err)
	}
	if _, err := s.Deactivate(ctx, b.other, KindAuthz, "weekend"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Deactivate from the other workspace: got %v, want ErrNotFound", err)
	}
	if _, err := s.DryRun(ctx, b.other, KindAuthz, `{}`, &Candidate{Name: "weekend", Version: 1}, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("DryRun of the other workspace's version: got %v, want ErrNotFound", err)
	}
	if list, err := s.List(ctx, b.other, ""); err != nil || len(list) != 0 {
		t.Errorf("List in the other workspace = %+v, %v; want none", list, err)
	}
	mods, _, err := s.WorkspaceModules(KindAuthz)(ctx, b.other)
	if err != nil || len(mods) != 0 {
		t.Errorf("modules of the other workspace = %v, %v; want none", mods, err)
	}
	res, err := s.DryRun(ctx, b.other, KindAuthz, `{"role": "admin", "action": "write", "day": "friday"}`, nil, false)
	if err != nil || !res.Allowed {
		t.Errorf("DryRun in the other workspace = %+v, %v; want allowed", res, err)
	}

	// Both workspaces may use the same name.
	if _, err := s.Upload(ctx, b.other, KindAuthz, "weekend", saturdayPolicy, "apikey:other"); err != nil {
		t.Fatalf("Upload in the other workspace: %v", err)
	}
	v, err := s.GetVersion(ctx, b.ws, KindAuthz, "weekend", 0)
	if err != nil || v.Source != fridayPolicy {
		t.Errorf("first workspace's policy = %q, %v; want it unchanged", v.Source, err)
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	friday := `{"role": "admin", "action": "write", "day": "friday"}`
	saturday := `{"role": "admin", "action": "write", "day": "saturday"}`
	mustUpload(t, s, b.ws, "weekend", fridayPolicy)
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "weekend", 1); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	mustUpload(t, s, b.ws, "weekend", saturdayPolicy)

	tests := []struct {
		name        string
		input       string
		candidate   *Candidate
		wantAllowed bool
		wantModules []string
	}{
		{"active version denies", friday, nil, false, []string{"weekend@1"}},
		{"active version allows", saturday, nil, true, []string{"weekend@1"}},
		{"candidate version replaces the active one", saturday, &Candidate{Name: "weekend", Version: 2}, false, []string{"weekend@2"}},
		{"candidate version lifts its own denial", friday, &Candidate{Name: "weekend", Version: 2}, true, []string{"weekend@2"}},
		{
			"unsaved source adds a policy", saturday,
			&Candidate{Name: "extra", Source: saturdayPolicy}, false, []string{"weekend@1", "extra@candidate"},
		},
	}
	for _, tt := range tests {
		res, err := s.DryRun(ctx, b.ws, KindAuthz, tt.input, tt.candidate, false)
		if err != nil {
			t.Fatalf("%s: DryRun: %v", tt.name, err)
		}
		if res.Allowed != tt.wantAllowed {
			t.Errorf("%s: Allowed = %v, want %v (%v)", tt.name, res.Allowed, tt.wantAllowed, res.Explanation)
		}
		if diff := cmp.Diff(tt.wantModules, res.Modules); diff != "" {
			t.Errorf("%s: modules (-want +got):\n%s", tt.name, diff)
		}
	}

	res, err := s.DryRun(ctx, b.ws, KindAuthz, friday, nil, false)
	if err != nil {
		t.Fatalf("DryRun: %v", err)
	}
	want := []Denial{{Message: "no writes on Friday", Workspace: true, Rule: "workspace/weekend.rego:3"}}
	if diff := cmp.Diff(want, res.Denials); diff != "" {
		t.Errorf("denials (-want +got):\n%s", diff)
	}

	for _, c := range []*Candidate{{Version: 1}, {Name: "weekend", Version: 1, Source: fridayPolicy}} {
		if _, err := s.DryRun(ctx, b.ws, KindAuthz, friday, c, false); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("DryRun(%+v): got %v, want ErrInvalidInput", c, err)
		}
	}
	var ce *CompileError
	if _, err := s.DryRun(ctx, b.ws, KindAuthz, friday, &Candidate{Name: "x", Source: "package nope"}, false); !errors.As(err, &ce) {
		t.Errorf("DryRun of a bad source: got %v, want a *CompileError", err)
	}
}

func TestWorkspaceModulesCache(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx := context.Background()
	// replica is a second control plane on the same database.
	replica := New(b.st, b.clock, stubBuiltinFunc)
	modules := replica.WorkspaceModules(KindAuthz)

	mods, version, err := modules(ctx, b.ws)
	if err != nil || len(mods) != 0 || version != "0" {
		t.Fatalf("before any policy: %v, %q, %v; want none at version 0", mods, version, err)
	}
	mustUpload(t, s, b.ws, "weekend", fridayPolicy)
	mustUpload(t, s, b.ws, "weekend", saturdayPolicy)
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "weekend", 1); err != nil {
		t.Fatalf("Activate: %v", err)
	}

	// The replica's entry is fresh, so it still answers from its cache.
	if mods, version, _ := modules(ctx, b.ws); len(mods) != 0 || version != "0" {
		t.Fatalf("replica within the TTL: %v at %q, want its cached answer", mods, version)
	}
	// The store that activated dropped its own entry at once.
	mods, v1, err := s.WorkspaceModules(KindAuthz)(ctx, b.ws)
	if err != nil || len(mods) != 1 || mods[0].Name != "weekend" || mods[0].Source != fridayPolicy {
		t.Fatalf("activating store: %v, %v; want weekend version 1", mods, err)
	}

	// A notification reaches the replica.
	replica.Invalidate(b.ws.String() + "/authz")
	mods, version, err = modules(ctx, b.ws)
	if err != nil || len(mods) != 1 || version != v1 {
		t.Fatalf("replica after the notification: %v at %q, %v; want weekend at %q", mods, version, err, v1)
	}

	// Without a notification, the TTL bounds how stale the replica gets.
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "weekend", 2); err != nil {
		t.Fatalf("Activate(2): %v", err)
	}
	if mods, _, _ := modules(ctx, b.ws); mods[0].Source != fridayPolicy {
		t.Fatalf("replica within the TTL: got a new source, want its cached one")
	}
	b.clock.Advance(defaultCacheTTL)
	mods, v2, err := modules(ctx, b.ws)
	if err != nil || len(mods) != 1 || mods[0].Source != saturdayPolicy || v2 == v1 {
		t.Fatalf("replica after the TTL: %v at %q, %v; want version 2 at a new version string", mods, v2, err)
	}

	// Another workspace's entry is separate, and a resync clears them all.
	replica.Invalidate(notify.Resync)
	if mods, version, err := modules(ctx, b.other); err != nil || len(mods) != 0 || version != "0" {
		t.Errorf("other workspace: %v at %q, %v; want none", mods, version, err)
	}
}

func TestNotificationInvalidatesReplica(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replica := New(b.st, b.clock, stubBuiltinFunc)
	listener := notify.NewListener(b.st.Pool, slog.New(slog.NewTextHandler(io.Discard, nil)), Channel)
	listener.Subscribe(Channel, replica.Invalidate)
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-listener.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("listener not ready")
	}

	modules := replica.WorkspaceModules(KindAuthz)
	if mods, _, err := modules(ctx, b.ws); err != nil || len(mods) != 0 {
		t.Fatalf("before: %v, %v", mods, err)
	}
	mustUpload(t, s, b.ws, "weekend", fridayPolicy)
	if _, err := s.Activate(ctx, b.ws, KindAuthz, "weekend", 1); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	// The fake clock does not move, so only the notification can refresh
	// the replica's entry.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mods, _, err := modules(ctx, b.ws)
		if err != nil {
			t.Fatalf("modules: %v", err)
		}
		if len(mods) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica never saw the activation")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
