package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/identity"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// WorkspaceServer implements [ferryv1connect.WorkspaceServiceHandler]. All
// fields are required.
//
// Known limitation: workspaces can be created but not renamed or deleted
// through the API.
type WorkspaceServer struct {
	Store *store.Store
	Clock clock.Clock
	Log   *slog.Logger
	// InstallationWorkspace names the workspace whose admins and owners
	// may create workspaces; see [requireInstallationAdmin]. Without it,
	// CreateWorkspace answers FailedPrecondition rather than letting every
	// workspace's admins create tenants.
	InstallationWorkspace InstallationWorkspaceFunc
}

var _ ferryv1connect.WorkspaceServiceHandler = (*WorkspaceServer)(nil)

// CreateWorkspace creates a workspace and its owner's membership in one
// transaction.
func (s *WorkspaceServer) CreateWorkspace(
	ctx context.Context,
	req *connect.Request[ferryv1.CreateWorkspaceRequest],
) (*connect.Response[ferryv1.CreateWorkspaceResponse], error) {
	const action = "create workspaces"
	if s.InstallationWorkspace == nil {
		return nil, errPrecondition("this server does not know the installation's first workspace, so it creates no workspaces")
	}
	p, err := requireInstallationAdmin(ctx, s.InstallationWorkspace, s.Log, action)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	display := strings.TrimSpace(m.GetDisplayName())
	if strings.IndexFunc(display, unicode.IsControl) >= 0 {
		return nil, errInvalid("display_name", "must not contain control characters")
	}
	if display == "" {
		display = m.GetName()
	}

	now := s.Clock.Now()
	var (
		ws    db.Workspace
		owner db.User
	)
	err = s.Store.Tx(ctx, func(q db.Querier) error {
		owner, err = workspaceOwner(ctx, q, p, m.GetOwnerEmail())
		if err != nil {
			return err
		}
		ws, err = q.WorkspaceCreate(ctx, db.WorkspaceCreateParams{
			ID: uuid.New(), Name: m.GetName(), DisplayName: display, Now: now,
		})
		if store.IsUniqueViolation(err) {
			return connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("name: a workspace named %q exists", m.GetName()))
		}
		if err != nil {
			return fmt.Errorf("insert workspace: %w", err)
		}
		if _, err := q.MembershipUpsert(ctx, db.MembershipUpsertParams{
			UserID: owner.ID, WorkspaceID: ws.ID, Role: string(auth.RoleOwner), Now: now,
		}); err != nil {
			return fmt.Errorf("insert owner membership: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, errInternal(ctx, s.Log, "create workspace", err)
	}

	s.Log.InfoContext(ctx, "workspace created", slog.String("workspace_id", ws.ID.String()),
		slog.String("name", ws.Name), slog.String("owner_id", owner.ID.String()), slog.String("subject", p.Subject))
	return connect.NewResponse(&ferryv1.CreateWorkspaceResponse{
		Workspace: workspaceToProto(ws.ID, ws.Name, ws.DisplayName, ws.CreateTime),
		Owner:     userToProto(owner, string(auth.RoleOwner)),
	}), nil
}

// workspaceOwner returns the person to own a new workspace: the one with
// ownerEmail, or else the calling person. A caller that is no person must
// name one.
func workspaceOwner(ctx context.Context, q db.Querier, p auth.Principal, ownerEmail string) (db.User, error) {
	if ownerEmail != "" {
		email, err := identity.NormalizeEmail(ownerEmail)
		if err != nil {
			return db.User{}, errInvalid("owner_email", "%v", err)
		}
		u, err := q.UserGetByEmail(ctx, &email)
		if store.IsNotFound(err) {
			return db.User{}, connect.NewError(connect.CodeNotFound,
				fmt.Errorf("owner_email: no person has the email %q; create them first (ferry user create)", email))
		}
		if err != nil {
			return db.User{}, fmt.Errorf("look up owner: %w", err)
		}
		return u, nil
	}
	if p.UserID == uuid.Nil {
		return db.User{}, errInvalid("owner_email", "required: this API key belongs to no person, so name the new workspace's owner")
	}
	u, err := q.UserGet(ctx, p.UserID)
	if err != nil {
		return db.User{}, fmt.Errorf("read caller: %w", err)
	}
	if u.Kind != identity.KindHuman {
		return db.User{}, errInvalid("owner_email", "required: a service account cannot own a workspace, so name a person")
	}
	return u, nil
}

// ListWorkspaces lists the caller's workspaces with its role in each.
func (s *WorkspaceServer) ListWorkspaces(
	ctx context.Context,
	_ *connect.Request[ferryv1.ListWorkspacesRequest],
) (*connect.Response[ferryv1.ListWorkspacesResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.ListWorkspacesResponse{}

	// A key without a user (the bootstrap admin key) is scoped to its own
	// workspace, with its own role, and has no memberships to list.
	if p.UserID == uuid.Nil {
		ws, err := s.Store.Q.WorkspaceGet(ctx, p.WorkspaceID)
		if err != nil {
			return nil, errInternal(ctx, s.Log, "list workspaces", fmt.Errorf("read caller's workspace: %w", err))
		}
		out.Workspaces = append(out.Workspaces, &ferryv1.WorkspaceMembership{
			Workspace: workspaceToProto(ws.ID, ws.Name, ws.DisplayName, ws.CreateTime), Role: p.Role,
		})
		return connect.NewResponse(out), nil
	}

	rows, err := s.Store.Q.MembershipListWorkspacesByUser(ctx, p.UserID)
	if err != nil {
		return nil, errInternal(ctx, s.Log, "list workspaces", fmt.Errorf("list memberships: %w", err))
	}
	out.Workspaces = make([]*ferryv1.WorkspaceMembership, 0, len(rows))
	for _, r := range rows {
		out.Workspaces = append(out.Workspaces, &ferryv1.WorkspaceMembership{
			Workspace: workspaceToProto(r.ID, r.Name, r.DisplayName, r.CreateTime), Role: r.Role,
		})
	}
	return connect.NewResponse(out), nil
}

func workspaceToProto(id uuid.UUID, name, display string, created time.Time) *ferryv1.Workspace {
	if display == "" {
		display = name
	}
	return &ferryv1.Workspace{
		Id: id.String(), Name: name, DisplayName: display, CreateTime: timestamppb.New(created),
	}
}
