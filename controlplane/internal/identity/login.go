package identity

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
)

// Defaults of [Config].
const (
	// defaultSessionLifetime ends a session a week after login, however
	// active; the idle timeout is the authenticator's.
	defaultSessionLifetime = 7 * 24 * time.Hour
	// defaultFailureWindow and defaultMaxFailures lock an account for the
	// window after that many failures in it, on every replica.
	defaultFailureWindow = 15 * time.Minute
	defaultMaxFailures   = 10
)

// defaultAddrRate and defaultAccountRate shape the per-replica buckets:
// they stop bursts before any password is hashed.
var (
	defaultAddrRate    = Rate{Burst: 20, Every: 3 * time.Second}
	defaultAccountRate = Rate{Burst: 5, Every: 20 * time.Second}
)

// Errors of [Service.Login].
var (
	// ErrInvalidLogin is the one answer to an unknown email and to a wrong
	// password, so that it reveals neither.
	ErrInvalidLogin = errors.New("wrong email or password")
	// ErrTooManyAttempts reports that the account or the address failed
	// too often recently; the caller should wait.
	ErrTooManyAttempts = errors.New("too many failed logins; wait a few minutes and try again")
	// ErrNoMembership reports a correct password of a user who is no
	// member of the requested workspace (or of any).
	ErrNoMembership = errors.New("the user is not a member of that workspace")
)

// Config configures a [Service].
type Config struct {
	// Store reaches the database. Required.
	Store *store.Store
	// Clock tells the time. Required.
	Clock clock.Clock
	// Pepper keys session token hashes and the failure counter's account
	// keys. Required.
	Pepper *auth.Pepper
	// Log receives login events (never a password or token). Required.
	Log *slog.Logger
	// Password sets the cost of new password hashes. Zero fields take the
	// defaults of [DefaultPasswordParams].
	Password PasswordParams
	// SessionLifetime is a session's absolute lifetime. Default 7 days.
	SessionLifetime time.Duration
	// FailureWindow is the window over which failed logins of an account
	// are counted. Default 15 minutes.
	FailureWindow time.Duration
	// MaxFailures is how many failures in FailureWindow lock an account
	// until the oldest leaves the window. Default 10.
	MaxFailures int
	// AddrRate limits attempts per source address on this replica.
	// Default 20 at once, then one per 3 s.
	AddrRate Rate
	// AccountRate limits attempts per account on this replica. Default 5
	// at once, then one per 20 s.
	AccountRate Rate
}

// Service logs people in and out. It is safe for concurrent use.
type Service struct {
	cfg     Config
	limiter *limiter
	// dummyHash is verified against when the email is unknown, so that
	// the answer takes as long as for a wrong password. It is made at the
	// first such login: hashing it costs the memory of a login (64 MiB by
	// default), which a server that nobody logs in to should not carry.
	// Known limitation: that first unknown-email login after a start takes
	// one hash longer than later ones.
	dummyOnce sync.Once
	dummyHash string

	pruneMu   sync.Mutex
	lastPrune time.Time
}

// New returns a Service configured by cfg.
func New(cfg Config) *Service {
	cfg.Password = cfg.Password.filled()
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = defaultSessionLifetime
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = defaultFailureWindow
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = defaultMaxFailures
	}
	if cfg.AddrRate.Burst <= 0 {
		cfg.AddrRate = defaultAddrRate
	}
	if cfg.AccountRate.Burst <= 0 {
		cfg.AccountRate = defaultAccountRate
	}
	return &Service{cfg: cfg, limiter: newLimiter()}
}

// dummy returns the hash verified against for unknown emails.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		// The dummy's salt need not be secret or random: only its cost matters.
		salt := []byte("ferry-dummy-salt")
		s.dummyHash = encodePHC(s.cfg.Password, salt, argon2.IDKey([]byte("ferry dummy password"), salt,
			s.cfg.Password.Iterations, s.cfg.Password.MemoryKiB, s.cfg.Password.Threads, hashLen))
	})
	return s.dummyHash
}

// PasswordParams returns the parameters new password hashes are made with.
func (s *Service) PasswordParams() PasswordParams { return s.cfg.Password }

// NormalizeEmail case-folds and trims an email address and checks its
// shape loosely: one '@' with text on both sides, no spaces, at most 254
// bytes.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(e, " \t\r\n") ||
		strings.Contains(domain, "@") || len(e) > 254 {
		return "", fmt.Errorf("%q is not an email address", email)
	}
	return e, nil
}

// LoginInput is what a person presents to log in.
type LoginInput struct {
	Email    string
	Password string
	// Workspace names the workspace to log in to; empty picks the user's
	// only one.
	Workspace string
	// SourceAddr is the client's address ("host:port" or host), for the
	// per-address limit.
	SourceAddr string
}

// LoginResult is a new session.
type LoginResult struct {
	// Token is the session token, to hand to the client once.
	Token     string
	Session   db.Session
	User      db.User
	Workspace db.Workspace
	Role      auth.Role
}

// Login checks in.Email and in.Password and starts a session. It returns
// [ErrInvalidLogin] for an unknown email or a wrong password alike, after
// the same argon2id work; [ErrTooManyAttempts] when the address or account
// failed too often; [ErrNoMembership] when the password is right but the
// user is no member of the workspace.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	now := s.cfg.Clock.Now()
	email := strings.ToLower(strings.TrimSpace(in.Email))
	account := s.cfg.Pepper.Hash("login-account:" + email)
	if !s.limiter.allow("addr:"+hostOf(in.SourceAddr), s.cfg.AddrRate, now) ||
		!s.limiter.allow("account:"+hex.EncodeToString(account), s.cfg.AccountRate, now) {
		return LoginResult{}, ErrTooManyAttempts
	}
	failures, err := s.cfg.Store.Q.LoginFailureCount(ctx, db.LoginFailureCountParams{
		AccountKey: account, Since: now.Add(-s.cfg.FailureWindow),
	})
	if err != nil {
		return LoginResult{}, fmt.Errorf("count failed logins: %w", err)
	}
	if failures >= int64(s.cfg.MaxFailures) {
		return LoginResult{}, ErrTooManyAttempts
	}

	user, err := s.cfg.Store.Q.UserGetByEmail(ctx, &email)
	if err != nil && !store.IsNotFound(err) {
		return LoginResult{}, fmt.Errorf("look up user: %w", err)
	}
	dummy := s.dummy()
	hash := dummy
	if err == nil && user.PasswordHash != nil {
		hash = *user.PasswordHash
	}
	ok, rehash, verr := VerifyPassword(in.Password, hash, s.cfg.Password)
	if verr != nil {
		s.cfg.Log.ErrorContext(ctx, "stored password hash unreadable", slog.String("user_id", user.ID.String()),
			slog.Any("error", verr))
	}
	if err != nil || hash == dummy || !ok {
		if ferr := s.recordFailure(ctx, account, now); ferr != nil {
			return LoginResult{}, ferr
		}
		return LoginResult{}, ErrInvalidLogin
	}

	ws, role, err := s.pickWorkspace(ctx, user.ID, in.Workspace)
	if err != nil {
		return LoginResult{}, err
	}
	sec, err := auth.NewSecret(auth.SessionKind)
	if err != nil {
		return LoginResult{}, err
	}
	var sess db.Session
	err = s.cfg.Store.Tx(ctx, func(q db.Querier) error {
		if err := q.LoginFailureClear(ctx, account); err != nil {
			return fmt.Errorf("clear failed logins: %w", err)
		}
		if rehash {
			newHash, err := HashPassword(in.Password, s.cfg.Password)
			if err != nil {
				return err
			}
			if err := q.UserSetPasswordHash(ctx, db.UserSetPasswordHashParams{ID: user.ID, PasswordHash: &newHash, Now: now}); err != nil {
				return fmt.Errorf("rehash password: %w", err)
			}
		}
		sess, err = q.SessionInsert(ctx, db.SessionInsertParams{
			ID: uuid.New(), UserID: user.ID, WorkspaceID: ws.ID, Prefix: sec.Prefix,
			SecretHash: s.cfg.Pepper.Hash(sec.Full), SourceAddr: hostOf(in.SourceAddr),
			Now: now, ExpireTime: now.Add(s.cfg.SessionLifetime),
		})
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return nil
	})
	if err != nil {
		return LoginResult{}, err
	}
	s.cfg.Log.InfoContext(ctx, "user logged in", slog.String("user_id", user.ID.String()),
		slog.String("workspace_id", ws.ID.String()), slog.String("session_id", sess.ID.String()))
	return LoginResult{Token: sec.Full, Session: sess, User: user, Workspace: ws, Role: role}, nil
}

// pickWorkspace returns the workspace named name among the user's, or the
// user's only one when name is empty.
func (s *Service) pickWorkspace(ctx context.Context, userID uuid.UUID, name string) (db.Workspace, auth.Role, error) {
	ms, err := s.cfg.Store.Q.MembershipListByUser(ctx, userID)
	if err != nil {
		return db.Workspace{}, "", fmt.Errorf("list memberships: %w", err)
	}
	var names []string
	for _, m := range ms {
		ws, err := s.cfg.Store.Q.WorkspaceGet(ctx, m.WorkspaceID)
		if err != nil {
			return db.Workspace{}, "", fmt.Errorf("read workspace: %w", err)
		}
		if ws.Name == name || name == "" && len(ms) == 1 {
			return ws, auth.Role(m.Role), nil
		}
		names = append(names, ws.Name)
	}
	if name == "" && len(names) > 1 {
		return db.Workspace{}, "", &WorkspaceChoiceError{Workspaces: names}
	}
	return db.Workspace{}, "", ErrNoMembership
}

// WorkspaceChoiceError reports a login without a workspace by a user who
// belongs to several; it lists them.
type WorkspaceChoiceError struct {
	Workspaces []string
}

func (e *WorkspaceChoiceError) Error() string {
	return "the user belongs to several workspaces; name one of: " + strings.Join(e.Workspaces, ", ")
}

// recordFailure counts a failed login for account on every replica, and
// now and then drops failures older than the window.
func (s *Service) recordFailure(ctx context.Context, account []byte, now time.Time) error {
	ctx = context.WithoutCancel(ctx)
	if err := s.cfg.Store.Q.LoginFailureInsert(ctx, db.LoginFailureInsertParams{AccountKey: account, Now: now}); err != nil {
		return fmt.Errorf("record failed login: %w", err)
	}
	s.pruneMu.Lock()
	due := now.Sub(s.lastPrune) >= s.cfg.FailureWindow
	if due {
		s.lastPrune = now
	}
	s.pruneMu.Unlock()
	if due {
		if _, err := s.cfg.Store.Q.LoginFailurePrune(ctx, now.Add(-s.cfg.FailureWindow)); err != nil {
			return fmt.Errorf("prune failed logins: %w", err)
		}
	}
	return nil
}

// Logout revokes a session and announces it on [auth.ChannelRevoke], so
// every replica refuses it from the next call.
func (s *Service) Logout(ctx context.Context, sessionID uuid.UUID) error {
	return s.cfg.Store.Tx(ctx, func(q db.Querier) error {
		if _, err := q.SessionRevoke(ctx, db.SessionRevokeParams{ID: sessionID, Now: s.cfg.Clock.Now()}); err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		return NotifyRevoked(ctx, q, sessionID)
	})
}

// NotifyRevoked announces, within q's transaction, that a credential or a
// membership changed, so that every replica's authenticator forgets its
// cached credentials when the transaction commits.
func NotifyRevoked(ctx context.Context, q db.Querier, id uuid.UUID) error {
	if err := q.Notify(ctx, db.NotifyParams{Channel: auth.ChannelRevoke, Payload: id.String()}); err != nil {
		return fmt.Errorf("announce revocation: %w", err)
	}
	return nil
}

// hostOf returns the host of a "host:port" address, or addr itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
