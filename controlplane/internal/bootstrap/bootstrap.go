// Package bootstrap prepares a new installation: the default workspace and
// its first admin API key.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// DefaultWorkspace is the name of the workspace created on first start.
const DefaultWorkspace = "default"

// AdminKeyFile is the name of the file, inside the data directory, that holds
// the admin API key created on first start.
const AdminKeyFile = "admin-api-key"

// Result says what Ensure did.
type Result struct {
	WorkspaceID uuid.UUID
	// AdminKey is the new admin key when this call created the workspace, else empty.
	AdminKey string
	// KeyFile is where the admin key was saved, when it was created.
	KeyFile string
}

// Ensure creates the default workspace and an admin API key unless the
// workspace exists. The key is saved with mode 0600 in dataDir (when not
// empty) for the CLI, and returned so the caller can print it once.
func Ensure(ctx context.Context, s *store.Store, dataDir string, now time.Time) (Result, error) {
	var res Result
	err := s.Tx(ctx, func(q db.Querier) error {
		ws, err := q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: DefaultWorkspace, Now: now})
		if store.IsNotFound(err) {
			// ON CONFLICT DO NOTHING returned no row: the workspace exists.
			existing, err := q.WorkspaceGetByName(ctx, DefaultWorkspace)
			if err != nil {
				return fmt.Errorf("read default workspace: %w", err)
			}
			res.WorkspaceID = existing.ID
			return nil
		}
		if err != nil {
			return fmt.Errorf("create default workspace: %w", err)
		}
		res.WorkspaceID = ws.ID
		sec, err := auth.NewSecret(auth.APIKeyKind)
		if err != nil {
			return err
		}
		if _, err := q.APIKeyInsert(ctx, db.APIKeyInsertParams{
			ID: uuid.New(), WorkspaceID: ws.ID, Name: "admin", Prefix: sec.Prefix,
			SecretHash: sec.Hash, Role: "admin", Now: now,
		}); err != nil {
			return fmt.Errorf("create admin API key: %w", err)
		}
		res.AdminKey = sec.Full
		return nil
	})
	if err != nil || res.AdminKey == "" || dataDir == "" {
		return res, err
	}
	res.KeyFile = filepath.Join(dataDir, AdminKeyFile)
	if err := writeKeyFile(res.KeyFile, res.AdminKey); err != nil {
		return res, err
	}
	return res, nil
}

func writeKeyFile(path, key string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save admin API key: %w", err)
	}
	_, werr := f.WriteString(key + "\n")
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("save admin API key: %w", err)
	}
	return nil
}
