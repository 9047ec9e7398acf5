package identity

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
)

// BootstrapEmailEnv and BootstrapPasswordFileEnv name the environment
// variables that ask the first start to create an owner account.
const (
	BootstrapEmailEnv        = "FERRY_BOOTSTRAP_ADMIN_EMAIL"
	BootstrapPasswordFileEnv = "FERRY_BOOTSTRAP_ADMIN_PASSWORD_FILE"
)

// maxPasswordFileBytes bounds how much of a password file is read.
const maxPasswordFileBytes = MaxPasswordBytes + 2

// ReadPasswordFile reads a password from path, dropping one trailing
// newline; "-" reads standard input r instead.
func ReadPasswordFile(path string, stdin io.Reader) (string, error) {
	var src io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		defer f.Close()
		src = f
	}
	data, err := io.ReadAll(io.LimitReader(src, maxPasswordFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if len(pw) > MaxPasswordBytes {
		return "", fmt.Errorf("password file %s: longer than %d bytes", path, MaxPasswordBytes)
	}
	return pw, nil
}

// CheckPassword returns an error when password is too short or too long
// for a new account.
func CheckPassword(password string) error {
	switch {
	case len(password) < MinPasswordBytes:
		return fmt.Errorf("the password must have at least %d bytes", MinPasswordBytes)
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("the password must have at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// EnsureOwner creates a person with email and password as owner of the
// workspace, unless a user with that email exists already (then it changes
// nothing and returns created false). Servers call it on start when
// [BootstrapEmailEnv] and [BootstrapPasswordFileEnv] are set.
func EnsureOwner(
	ctx context.Context,
	st *store.Store,
	workspaceID uuid.UUID,
	email, password string,
	params PasswordParams,
	now time.Time,
) (created bool, err error) {
	email, err = NormalizeEmail(email)
	if err != nil {
		return false, fmt.Errorf("bootstrap owner: %w", err)
	}
	if err := CheckPassword(password); err != nil {
		return false, fmt.Errorf("bootstrap owner: %w", err)
	}
	if _, err := st.Q.UserGetByEmail(ctx, &email); err == nil {
		return false, nil
	} else if !store.IsNotFound(err) {
		return false, fmt.Errorf("bootstrap owner: look up user: %w", err)
	}
	hash, err := HashPassword(password, params)
	if err != nil {
		return false, err
	}
	err = st.Tx(ctx, func(q db.Querier) error {
		u, err := q.UserInsert(ctx, db.UserInsertParams{
			ID: uuid.New(), Kind: KindHuman, Email: &email, DisplayName: email, PasswordHash: &hash, Now: now,
		})
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		_, err = q.MembershipUpsert(ctx, db.MembershipUpsertParams{
			UserID: u.ID, WorkspaceID: workspaceID, Role: string(auth.RoleOwner), Now: now,
		})
		if err != nil {
			return fmt.Errorf("insert membership: %w", err)
		}
		return nil
	})
	if store.IsUniqueViolation(err) {
		// Another replica created it first.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bootstrap owner: %w", err)
	}
	return true, nil
}

// User kinds as stored in users.kind.
const (
	KindHuman   = "human"
	KindService = "service"
)
