package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/identity"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// wsTestPassword is the password of the people the workspace tests create.
const wsTestPassword = "member-password-0123"

// wsTestPeople adds ada (viewer) and bob (admin) to the installation's
// workspace, and returns clients of the owner's, ada's and bob's sessions
// there.
func wsTestPeople(t *testing.T, e *idTestEnv) (owner, ada, bob idTestClients) {
	t.Helper()
	admin := e.bearer(e.adminKey)
	for email, role := range map[string]string{"ada@example.com": "viewer", "bob@example.com": "admin"} {
		if _, err := admin.users.CreateUser(context.Background(), connect.NewRequest(&ferryv1.CreateUserRequest{
			Email: email, DisplayName: email, Password: wsTestPassword, Role: role,
		})); err != nil {
			t.Fatalf("CreateUser(%s): %v", email, err)
		}
	}
	e.secrets = append(e.secrets, wsTestPassword)
	session := func(email, password string) idTestClients {
		c := e.loginTo(t, email, password, "default")
		return e.clients("Cookie", c.Name+"="+c.Value)
	}
	return session("owner@example.com", idTestPassword), session("ada@example.com", wsTestPassword),
		session("bob@example.com", wsTestPassword)
}

// workspaceNames returns the names of all workspaces, read from the
// database.
func workspaceNames(t *testing.T, e *idTestEnv) []string {
	t.Helper()
	rows, err := e.store.Pool.Query(context.Background(), "SELECT name FROM workspaces ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// membershipCount counts all memberships, read from the database.
func membershipCount(t *testing.T, e *idTestEnv) int {
	t.Helper()
	var n int
	if err := e.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM memberships").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCreateWorkspace runs its cases in order on one database: later cases
// rely on the workspaces earlier ones created.
func TestCreateWorkspace(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	owner, ada, bob := wsTestPeople(t, e)
	bootstrapKey := e.bearer(e.adminKey)
	// Ada owns a workspace of her own after the first cases, and logs in
	// to it there.
	var adaInTeamB idTestClients

	tests := []struct {
		name   string
		caller func() idTestClients
		req    *ferryv1.CreateWorkspaceRequest
		// wantCode is the error's code, or 0 for success; wantMsg is part
		// of the error's message.
		wantCode connect.Code
		wantMsg  string
		// wantOwner and wantDisplay are the owner's email and the display
		// name of a created workspace.
		wantOwner, wantDisplay string
	}{
		{
			name: "installation owner owns what it creates", caller: func() idTestClients { return owner },
			req:       &ferryv1.CreateWorkspaceRequest{Name: "team-a", DisplayName: "  Team A  "},
			wantOwner: "owner@example.com", wantDisplay: "Team A",
		},
		{
			name: "installation admin names another person", caller: func() idTestClients { return bob },
			req:       &ferryv1.CreateWorkspaceRequest{Name: "team-b", OwnerEmail: "Ada@Example.com"},
			wantOwner: "ada@example.com", wantDisplay: "team-b",
		},
		{
			name: "bootstrap key names an owner", caller: func() idTestClients { return bootstrapKey },
			req:       &ferryv1.CreateWorkspaceRequest{Name: "team-c", OwnerEmail: "bob@example.com"},
			wantOwner: "bob@example.com", wantDisplay: "team-c",
		},
		{
			name: "bootstrap key without an owner", caller: func() idTestClients { return bootstrapKey },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "nobody-owns"},
			wantCode: connect.CodeInvalidArgument, wantMsg: "owner_email: required",
		},
		{
			name: "unknown owner", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "ghost-owned", OwnerEmail: "ghost@example.com"},
			wantCode: connect.CodeNotFound, wantMsg: "owner_email",
		},
		{
			name: "malformed owner email", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "bad-owner", OwnerEmail: "not an email"},
			wantCode: connect.CodeInvalidArgument, wantMsg: "owner_email",
		},
		{
			name: "duplicate of the first workspace", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "default"},
			wantCode: connect.CodeAlreadyExists, wantMsg: `"default" exists`,
		},
		{
			name: "duplicate of a created workspace", caller: func() idTestClients { return bob },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "team-a", OwnerEmail: "ada@example.com"},
			wantCode: connect.CodeAlreadyExists, wantMsg: `"team-a" exists`,
		},
		{
			name: "empty name", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{},
			wantCode: connect.CodeInvalidArgument, wantMsg: "name",
		},
		{
			name: "upper-case name", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "Team-D"},
			wantCode: connect.CodeInvalidArgument, wantMsg: "name",
		},
		{
			name: "name starting with a digit", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "1team"},
			wantCode: connect.CodeInvalidArgument, wantMsg: "name",
		},
		{
			name: "name of 64 characters", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "t" + strings.Repeat("a", 63)},
			wantCode: connect.CodeInvalidArgument, wantMsg: "name",
		},
		{
			name: "display name too long", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "long-display", DisplayName: strings.Repeat("x", 201)},
			wantCode: connect.CodeInvalidArgument, wantMsg: "display_name",
		},
		{
			name: "display name with a control character", caller: func() idTestClients { return owner },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "bell", DisplayName: "ring\a"},
			wantCode: connect.CodeInvalidArgument, wantMsg: "display_name",
		},
		{
			name: "viewer of the installation's workspace", caller: func() idTestClients { return ada },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "by-a-viewer"},
			wantCode: connect.CodePermissionDenied, wantMsg: "only an admin or owner",
		},
		{
			name: "owner of another workspace", caller: func() idTestClients { return adaInTeamB },
			req:      &ferryv1.CreateWorkspaceRequest{Name: "by-team-b"},
			wantCode: connect.CodePermissionDenied, wantMsg: "installation's first workspace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			namesBefore, membersBefore := workspaceNames(t, e), membershipCount(t, e)
			resp, err := tt.caller().workspaces.CreateWorkspace(context.Background(), connect.NewRequest(tt.req))
			if tt.wantCode != 0 {
				if connect.CodeOf(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("got %v, want code %v with %q", err, tt.wantCode, tt.wantMsg)
				}
				if diff := cmp.Diff(namesBefore, workspaceNames(t, e)); diff != "" {
					t.Errorf("workspaces changed by a refused call (-before +after):\n%s", diff)
				}
				if got := membershipCount(t, e); got != membersBefore {
					t.Errorf("memberships: %d after a refused call, %d before", got, membersBefore)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateWorkspace: %v", err)
			}
			ws, own := resp.Msg.GetWorkspace(), resp.Msg.GetOwner()
			if ws.GetName() != tt.req.GetName() || ws.GetDisplayName() != tt.wantDisplay || ws.GetId() == "" {
				t.Errorf("workspace = %v, want name %s and display name %q", ws, tt.req.GetName(), tt.wantDisplay)
			}
			if own.GetEmail() != tt.wantOwner || own.GetRole() != "owner" {
				t.Errorf("owner = %v, want %s as owner", own, tt.wantOwner)
			}
			if got := membershipCount(t, e); got != membersBefore+1 {
				t.Errorf("memberships: %d after creating, want %d", got, membersBefore+1)
			}
			if ws.GetName() == "team-b" {
				c := e.loginTo(t, "ada@example.com", wsTestPassword, "team-b")
				adaInTeamB = e.clients("Cookie", c.Name+"="+c.Value)
			}
		})
	}
}

// TestCreatedWorkspaceIsSeparate logs the owner of a new workspace in to
// it: the session acts there, and sees none of the first workspace's
// members or keys.
func TestCreatedWorkspaceIsSeparate(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	_, _, bob := wsTestPeople(t, e)
	ctx := context.Background()
	created, err := bob.workspaces.CreateWorkspace(ctx, connect.NewRequest(&ferryv1.CreateWorkspaceRequest{
		Name: "team-b", DisplayName: "Team B", OwnerEmail: "ada@example.com",
	}))
	if err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}

	// Ada now belongs to two workspaces: a login must name one.
	_, err = e.clients("", "").auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{
		Email: "ada@example.com", Password: wsTestPassword,
	}))
	wantCode(t, err, connect.CodeInvalidArgument)
	c := e.loginTo(t, "ada@example.com", wsTestPassword, "team-b")
	ada := e.clients("Cookie", c.Name+"="+c.Value)

	who, err := e.whoAmI(ada)
	if err != nil {
		t.Fatalf("WhoAmI: %v", err)
	}
	if who.GetWorkspaceId() != created.Msg.GetWorkspace().GetId() || who.GetRole() != "owner" {
		t.Errorf("WhoAmI = %v, want owner of %s", who, created.Msg.GetWorkspace().GetId())
	}
	users, err := ada.users.ListUsers(ctx, connect.NewRequest(&ferryv1.ListUsersRequest{}))
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var emails []string
	for _, u := range users.Msg.GetUsers() {
		emails = append(emails, u.GetEmail()+"/"+u.GetRole())
	}
	if diff := cmp.Diff([]string{"ada@example.com/owner"}, emails); diff != "" {
		t.Errorf("members of team-b (-want +got):\n%s", diff)
	}
	keys, err := ada.keys.ListAPIKeys(ctx, connect.NewRequest(&ferryv1.ListAPIKeysRequest{}))
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	if len(keys.Msg.GetKeys()) != 0 {
		t.Errorf("team-b's session lists the first workspace's keys: %v", keys.Msg.GetKeys())
	}
	// The owner of team-b may manage its people, and only there.
	if _, err := ada.users.AddMembership(ctx, connect.NewRequest(&ferryv1.AddMembershipRequest{
		Email: "bob@example.com", Role: "viewer",
	})); err != nil {
		t.Fatalf("AddMembership in team-b: %v", err)
	}
	var bobRole string
	if err := e.store.Pool.QueryRow(ctx, `SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE u.email = 'bob@example.com' AND m.workspace_id = $1`, e.ws).Scan(&bobRole); err != nil || bobRole != "admin" {
		t.Errorf("bob's role in the first workspace = %q, %v; want admin, unchanged", bobRole, err)
	}
	e.scanDatabase(t)
}

func TestListWorkspaces(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	owner, ada, bob := wsTestPeople(t, e)
	ctx := context.Background()
	for name, mail := range map[string]string{"team-a": "owner@example.com", "team-b": "ada@example.com"} {
		if _, err := bob.workspaces.CreateWorkspace(ctx, connect.NewRequest(&ferryv1.CreateWorkspaceRequest{
			Name: name, OwnerEmail: mail,
		})); err != nil {
			t.Fatalf("CreateWorkspace(%s): %v", name, err)
		}
	}
	admin := e.bearer(e.adminKey)
	if _, err := admin.users.CreateServiceAccount(ctx, connect.NewRequest(&ferryv1.CreateServiceAccountRequest{
		Name: "deployer", Role: "operator",
	})); err != nil {
		t.Fatalf("CreateServiceAccount: %v", err)
	}
	saKey, err := admin.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{
		Name: "deployer", Role: "viewer", ServiceAccount: "deployer",
	}))
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	e.secrets = append(e.secrets, saKey.Msg.GetSecret())
	adaInB := func() idTestClients {
		c := e.loginTo(t, "ada@example.com", wsTestPassword, "team-b")
		return e.clients("Cookie", c.Name+"="+c.Value)
	}()

	tests := []struct {
		name   string
		caller idTestClients
		want   []string
	}{
		{name: "bootstrap key: its own workspace and role", caller: admin, want: []string{"default/admin"}},
		{name: "owner: the first workspace and one more", caller: owner, want: []string{"default/owner", "team-a/owner"}},
		{name: "viewer who owns another", caller: ada, want: []string{"default/viewer", "team-b/owner"}},
		{name: "same person from the other workspace", caller: adaInB, want: []string{"default/viewer", "team-b/owner"}},
		{name: "creator is not a member of what it made", caller: bob, want: []string{"default/admin"}},
		{name: "service account", caller: e.bearer(saKey.Msg.GetSecret()), want: []string{"default/operator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := tt.caller.workspaces.ListWorkspaces(ctx, connect.NewRequest(&ferryv1.ListWorkspacesRequest{}))
			if err != nil {
				t.Fatalf("ListWorkspaces: %v", err)
			}
			var got []string
			for _, m := range resp.Msg.GetWorkspaces() {
				if m.GetWorkspace().GetId() == "" || m.GetWorkspace().GetCreateTime() == nil {
					t.Errorf("workspace without id or create time: %v", m)
				}
				got = append(got, m.GetWorkspace().GetName()+"/"+m.GetRole())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("workspaces (-want +got):\n%s", diff)
			}
		})
	}

	_, err = e.clients("", "").workspaces.ListWorkspaces(ctx, connect.NewRequest(&ferryv1.ListWorkspacesRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated)
}

// failingMemberships fails every MembershipUpsert, after the workspace row
// of the same transaction was written.
type failingMemberships struct{ db.Querier }

// errMembershipFault is the fault failingMemberships injects.
var errMembershipFault = errors.New("injected membership fault")

func (failingMemberships) MembershipUpsert(context.Context, db.MembershipUpsertParams) (db.Membership, error) {
	return db.Membership{}, errMembershipFault
}

// TestCreateWorkspaceIsAtomic fails the owner's membership and checks that
// the workspace inserted before it in the transaction is gone.
func TestCreateWorkspaceIsAtomic(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	var ownerID uuid.UUID
	if err := e.store.Pool.QueryRow(context.Background(),
		"SELECT id FROM users WHERE email = 'owner@example.com'").Scan(&ownerID); err != nil {
		t.Fatal(err)
	}
	srv := &WorkspaceServer{
		Store: e.store.WithFaults(func(q db.Querier) db.Querier { return failingMemberships{q} }),
		Clock: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		InstallationWorkspace: func(context.Context) (uuid.UUID, error) { return e.ws, nil },
	}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{
		Kind: auth.KindSession, WorkspaceID: e.ws, Subject: "user:owner@example.com", Role: "owner", UserID: ownerID,
	})
	_, err := srv.CreateWorkspace(ctx, connect.NewRequest(&ferryv1.CreateWorkspaceRequest{Name: "half-made"}))
	wantCode(t, err, connect.CodeUnavailable)
	if diff := cmp.Diff([]string{"default"}, workspaceNames(t, e)); diff != "" {
		t.Errorf("workspaces after a failed creation (-want +got):\n%s", diff)
	}

	// Without a known installation workspace, nobody creates workspaces.
	srv = &WorkspaceServer{Store: e.store, Clock: e.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	_, err = srv.CreateWorkspace(ctx, connect.NewRequest(&ferryv1.CreateWorkspaceRequest{Name: "unguarded"}))
	wantCode(t, err, connect.CodeFailedPrecondition)
	if diff := cmp.Diff([]string{"default"}, workspaceNames(t, e)); diff != "" {
		t.Errorf("workspaces after a refused creation (-want +got):\n%s", diff)
	}
}
