package api

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
)

// InstallationWorkspaceFunc returns the workspace whose admins and owners
// administer the whole installation: the first workspace, created at first
// start. Signing keys and workspace creation are theirs alone.
type InstallationWorkspaceFunc func(ctx context.Context) (uuid.UUID, error)

// requireInstallationAdmin returns the caller when it is an admin or owner
// of the installation's workspace, and PermissionDenied otherwise, naming
// the action refused. A nil installation leaves every workspace's admins
// and owners allowed. The authorization policy has already required the
// action's permission; this adds the one thing a role cannot say, which
// workspace the role was held in.
func requireInstallationAdmin(
	ctx context.Context,
	installation InstallationWorkspaceFunc,
	log *slog.Logger,
	action string,
) (auth.Principal, error) {
	p, err := principal(ctx)
	if err != nil {
		return auth.Principal{}, err
	}
	if r := auth.Role(p.Role); r != auth.RoleAdmin && r != auth.RoleOwner {
		return auth.Principal{}, connect.NewError(connect.CodePermissionDenied,
			errors.New("only an admin or owner may "+action))
	}
	if installation == nil {
		return p, nil
	}
	ws, err := installation(ctx)
	if err != nil {
		return auth.Principal{}, errInternal(ctx, log, action, err)
	}
	if p.WorkspaceID != ws {
		return auth.Principal{}, connect.NewError(connect.CodePermissionDenied,
			errors.New("only admins and owners of the installation's first workspace may "+action))
	}
	return p, nil
}
