package api

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferryhq/ferry/controlplane/internal/auth"
	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
	"github.com/ferryhq/ferry/controlplane/internal/identity"
	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/controlplane/internal/validate"
	"github.com/ferryhq/ferry/internal/clock"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// idTestPassword is the owner's password; the final scan of the database
// looks for it.
const idTestPassword = "owner-password-0123"

// idTestMaxFailures is the lockout threshold of the test service.
const idTestMaxFailures = 4

// idTestWindow is the failure window of the test service.
const idTestWindow = 15 * time.Minute

// idTestEnv serves the identity services behind the real authenticator
// over real HTTP on one fresh database.
type idTestEnv struct {
	store  *store.Store
	clock  *clock.Fake
	pepper *auth.Pepper
	url    string
	ws     uuid.UUID
	// adminKey is an admin API key of ws.
	adminKey string
	// secrets collects every password and credential the test handled,
	// for [idTestEnv.scanDatabase].
	secrets []string
}

func setupIdentityEnv(t *testing.T, addrRate identity.Rate) *idTestEnv {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.Pool(t))
	fake := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	raw := make([]byte, auth.PepperSize)
	rand.Read(raw)
	pepper, err := auth.NewPepper(raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	params := identity.PasswordParams{MemoryKiB: 1024, Iterations: 1, Threads: 1}
	svc := identity.New(identity.Config{
		Store: st, Clock: fake, Pepper: pepper, Log: log, Password: params,
		FailureWindow: idTestWindow, MaxFailures: idTestMaxFailures,
		AddrRate: addrRate, AccountRate: identity.Rate{Burst: 100, Every: time.Millisecond},
	})
	e := &idTestEnv{store: st, clock: fake, pepper: pepper, secrets: []string{idTestPassword}}
	ws, err := st.Q.WorkspaceInsert(ctx, db.WorkspaceInsertParams{ID: uuid.New(), Name: "default", Now: fake.Now()})
	if err != nil {
		t.Fatal(err)
	}
	e.ws = ws.ID
	if created, err := identity.EnsureOwner(ctx, st, ws.ID, "Owner@Example.com", idTestPassword, params, fake.Now()); err != nil || !created {
		t.Fatalf("EnsureOwner = %v, %v", created, err)
	}
	sec, err := auth.NewSecret(auth.APIKeyKind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Q.APIKeyCreate(ctx, db.APIKeyCreateParams{
		ID: uuid.New(), WorkspaceID: ws.ID, Name: "admin", Prefix: sec.Prefix, SecretHash: pepper.Hash(sec.Full),
		Role: "admin", Now: fake.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	e.adminKey = sec.Full
	e.secrets = append(e.secrets, sec.Full)

	authn := auth.New(auth.Config{Queries: st.Q, Clock: fake, Pepper: pepper})
	opts := connect.WithInterceptors(authn.Interceptor(), validate.Interceptor())
	mux := http.NewServeMux()
	mux.Handle(ferryv1connect.NewAuthServiceHandler(&AuthServer{Identity: svc, Store: st, Log: log, OnRevoke: authn.Forget}, opts))
	mux.Handle(ferryv1connect.NewUserServiceHandler(&UserServer{Store: st, Clock: fake, Log: log, Password: params, OnRevoke: authn.Forget}, opts))
	mux.Handle(ferryv1connect.NewAPIKeyServiceHandler(&APIKeyServer{Store: st, Clock: fake, Log: log, Pepper: pepper, OnRevoke: authn.Forget}, opts))
	mux.Handle(ferryv1connect.NewWorkspaceServiceHandler(&WorkspaceServer{
		Store: st, Clock: fake, Log: log,
		InstallationWorkspace: func(context.Context) (uuid.UUID, error) { return ws.ID, nil },
	}, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// idTestClients are the identity clients of one credential.
type idTestClients struct {
	auth  ferryv1connect.AuthServiceClient
	users ferryv1connect.UserServiceClient
	keys  ferryv1connect.APIKeyServiceClient
	// workspaces is served with ws as the installation's workspace.
	workspaces ferryv1connect.WorkspaceServiceClient
}

// clients returns clients that send header: value on every call ("" sends
// nothing).
func (e *idTestEnv) clients(header, value string) idTestClients {
	opts := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if header != "" {
				req.Header().Set(header, value)
			}
			return next(ctx, req)
		}
	}))
	return idTestClients{
		auth:  ferryv1connect.NewAuthServiceClient(http.DefaultClient, e.url, opts),
		users: ferryv1connect.NewUserServiceClient(http.DefaultClient, e.url, opts),
		keys:  ferryv1connect.NewAPIKeyServiceClient(http.DefaultClient, e.url, opts),

		workspaces: ferryv1connect.NewWorkspaceServiceClient(http.DefaultClient, e.url, opts),
	}
}

func (e *idTestEnv) bearer(secret string) idTestClients {
	return e.clients("Authorization", "Bearer "+secret)
}

// login logs in and returns the session cookie the server set.
func (e *idTestEnv) login(t *testing.T, email, password string) *http.Cookie {
	t.Helper()
	return e.loginTo(t, email, password, "")
}

// loginTo logs in to a named workspace ("" for the user's only one) and
// returns the session cookie the server set.
func (e *idTestEnv) loginTo(t *testing.T, email, password, workspace string) *http.Cookie {
	t.Helper()
	resp, err := e.clients("", "").auth.Login(context.Background(), connect.NewRequest(&ferryv1.LoginRequest{
		Email: email, Password: password, Workspace: workspace,
	}))
	if err != nil {
		t.Fatalf("Login(%s): %v", email, err)
	}
	for _, line := range resp.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == auth.SessionCookie {
			e.secrets = append(e.secrets, c.Value)
			return c
		}
	}
	t.Fatalf("Login set no %s cookie: %v", auth.SessionCookie, resp.Header())
	return nil
}

func (e *idTestEnv) whoAmI(c idTestClients) (*ferryv1.WhoAmIResponse, error) {
	resp, err := c.auth.WhoAmI(context.Background(), connect.NewRequest(&ferryv1.WhoAmIRequest{}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// scanDatabase fails the test when any text, varchar, json or bytea column
// of any table holds one of e.secrets.
func (e *idTestEnv) scanDatabase(t *testing.T) {
	t.Helper()
	// The public prefix of a key is stored in clear: finding it shows the
	// scan can see what it looks for.
	_, prefix, err := auth.Parse(e.adminKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.columnsHolding(t, prefix); len(got) == 0 {
		t.Fatalf("the scan does not find the key prefix %s stored in api_keys.prefix", prefix)
	}
	for _, s := range e.secrets {
		if got := e.columnsHolding(t, s); len(got) > 0 {
			t.Errorf("a password or secret is stored in clear in %v", got)
		}
	}
}

// columnsHolding returns the table.column names whose values contain s.
func (e *idTestEnv) columnsHolding(t *testing.T, s string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := e.store.Pool.Query(ctx, `
		SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'bytea', 'jsonb', 'json')`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ table, name, typ string }
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.table, &c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cols) < 10 {
		t.Fatalf("found only %d text columns; the scan is not looking at the schema", len(cols))
	}
	var found []string
	for _, c := range cols {
		cond := `strpos("` + c.name + `"::text, $1) > 0`
		if c.typ == "bytea" {
			cond = `position(convert_to($1, 'UTF8') in "` + c.name + `") > 0`
		}
		var n int
		q := `SELECT count(*) FROM "` + c.table + `" WHERE ` + cond
		if err := e.store.Pool.QueryRow(ctx, q, s).Scan(&n); err != nil {
			t.Fatalf("scan %s.%s: %v", c.table, c.name, err)
		}
		if n > 0 {
			found = append(found, c.table+"."+c.name)
		}
	}
	return found
}

func wantCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("got %v, want code %v", err, code)
	}
}

func TestLoginSessionCookie(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	ctx := context.Background()

	resp, err := e.clients("", "").auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{
		Email: " OWNER@example.com", Password: idTestPassword,
	}))
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got := resp.Msg.GetUser().GetRole(); got != "owner" || resp.Msg.GetWorkspace() != "default" {
		t.Errorf("logged in as %q in %q, want owner in default", got, resp.Msg.GetWorkspace())
	}
	lines := resp.Header().Values("Set-Cookie")
	if len(lines) != 1 {
		t.Fatalf("Set-Cookie = %q, want one cookie", lines)
	}
	c, err := http.ParseSetCookie(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, c.Value)
	if c.Name != auth.SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %q lacks HttpOnly, SameSite=Lax or Path=/", lines[0])
	}
	if c.Secure {
		t.Errorf("cookie %q is Secure over plain HTTP on loopback", lines[0])
	}
	if want := e.clock.Now().Add(7 * 24 * time.Hour); !c.Expires.Equal(want) {
		t.Errorf("cookie expires %v, want %v", c.Expires, want)
	}
	if strings.Contains(resp.Msg.String(), c.Value) {
		t.Error("the session token is in the response body")
	}

	// The page was served over HTTPS: the cookie must be Secure.
	https := e.clients("Origin", "https://ferry.example.com")
	resp, err = https.auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{Email: "owner@example.com", Password: idTestPassword}))
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	sc, err := http.ParseSetCookie(resp.Header().Get("Set-Cookie"))
	if err != nil || !sc.Secure {
		t.Errorf("cookie over an https origin = %v, %v; want Secure", sc, err)
	}
	e.secrets = append(e.secrets, sc.Value)

	cookie := e.clients("Cookie", c.Name+"="+c.Value)
	who, err := e.whoAmI(cookie)
	if err != nil {
		t.Fatalf("WhoAmI with the cookie: %v", err)
	}
	if who.GetKind() != "session" || who.GetSubject() != "user:owner@example.com" || who.GetRole() != "owner" {
		t.Errorf("WhoAmI = %v", who)
	}

	// The idle timeout ends an unused session; use keeps it alive.
	e.clock.Advance(11 * time.Hour)
	if _, err := e.whoAmI(cookie); err != nil {
		t.Fatalf("WhoAmI after 11h: %v", err)
	}
	e.clock.Advance(11 * time.Hour)
	if _, err := e.whoAmI(cookie); err != nil {
		t.Fatalf("WhoAmI 11h after the last use: %v", err)
	}
	e.clock.Advance(12*time.Hour + time.Minute)
	_, err = e.whoAmI(cookie)
	wantCode(t, err, connect.CodeUnauthenticated)
}

func TestLogoutRevokes(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	ctx := context.Background()
	c := e.login(t, "owner@example.com", idTestPassword)
	cookie := e.clients("Cookie", c.Name+"="+c.Value)
	if _, err := e.whoAmI(cookie); err != nil {
		t.Fatalf("WhoAmI: %v", err)
	}
	resp, err := cookie.auth.Logout(ctx, connect.NewRequest(&ferryv1.LogoutRequest{}))
	if err != nil {
		t.Fatalf("Logout: %v", err)
	}
	cleared, err := http.ParseSetCookie(resp.Header().Get("Set-Cookie"))
	if err != nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("Logout cookie = %v, %v; want one that deletes it", cleared, err)
	}
	_, err = e.whoAmI(cookie)
	wantCode(t, err, connect.CodeUnauthenticated)
	// The same token as a bearer credential is refused too.
	_, err = e.whoAmI(e.bearer(c.Value))
	wantCode(t, err, connect.CodeUnauthenticated)
	// An API key cannot log out.
	_, err = e.bearer(e.adminKey).auth.Logout(ctx, connect.NewRequest(&ferryv1.LogoutRequest{}))
	wantCode(t, err, connect.CodeFailedPrecondition)
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	ctx := context.Background()
	anon := e.clients("", "")
	login := func(email, password string) error {
		_, err := anon.auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{Email: email, Password: password}))
		return err
	}

	wrong := login("owner@example.com", "not-the-password")
	unknown := login("nobody@example.com", "not-the-password")
	wantCode(t, wrong, connect.CodeUnauthenticated)
	wantCode(t, unknown, connect.CodeUnauthenticated)
	if wrong.Error() != unknown.Error() {
		t.Errorf("wrong password answers %q, unknown email %q: they must not differ", wrong, unknown)
	}
	e.secrets = append(e.secrets, "not-the-password")

	// A success clears the failures.
	if err := login("owner@example.com", idTestPassword); err != nil {
		t.Fatalf("Login: %v", err)
	}
	for range idTestMaxFailures {
		wantCode(t, login("owner@example.com", "not-the-password"), connect.CodeUnauthenticated)
	}
	// Locked: even the right password is refused until the window passes.
	wantCode(t, login("OWNER@example.com", idTestPassword), connect.CodeResourceExhausted)
	// Unknown accounts lock the same way, so a lockout reveals nothing
	// (one failure of nobody@ was counted above).
	for range idTestMaxFailures - 1 {
		wantCode(t, login("nobody@example.com", "not-the-password"), connect.CodeUnauthenticated)
	}
	wantCode(t, login("nobody@example.com", "not-the-password"), connect.CodeResourceExhausted)
	// Another account is not affected.
	if _, err := e.bearer(e.adminKey).users.CreateUser(ctx, connect.NewRequest(&ferryv1.CreateUserRequest{
		Email: "dev@example.com", DisplayName: "Dev", Password: "developer-password-1", Role: "developer",
	})); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	e.secrets = append(e.secrets, "developer-password-1")
	if err := login("dev@example.com", "developer-password-1"); err != nil {
		t.Fatalf("Login of another account: %v", err)
	}

	e.clock.Advance(idTestWindow + time.Second)
	if err := login("owner@example.com", idTestPassword); err != nil {
		t.Fatalf("Login after the window: %v", err)
	}
	e.scanDatabase(t)
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{Burst: 3, Every: time.Minute})
	ctx := context.Background()
	anon := e.clients("", "")
	for i := range 3 {
		_, err := anon.auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{
			Email: uuid.NewString() + "@example.com", Password: "guess",
		}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("attempt %d: %v, want Unauthenticated", i, err)
		}
	}
	_, err := anon.auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{Email: "owner@example.com", Password: idTestPassword}))
	wantCode(t, err, connect.CodeResourceExhausted)
	e.clock.Advance(time.Minute)
	if _, err := anon.auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{Email: "owner@example.com", Password: idTestPassword})); err != nil {
		t.Fatalf("Login after refill: %v", err)
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	ctx := context.Background()
	admin := e.bearer(e.adminKey)

	created, err := admin.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: "ci", Role: "developer"}))
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	secret := created.Msg.GetSecret()
	e.secrets = append(e.secrets, secret)
	if kind, prefix, err := auth.Parse(secret); err != nil || kind != auth.APIKeyKind || prefix != created.Msg.GetKey().GetPrefix() {
		t.Fatalf("secret parses as %q, %v; want an API key with the listed prefix", kind, err)
	}
	who, err := e.whoAmI(e.bearer(secret))
	if err != nil || who.GetRole() != "developer" || who.GetKind() != "apikey" {
		t.Fatalf("WhoAmI with the new key = %v, %v", who, err)
	}

	list, err := admin.keys.ListAPIKeys(ctx, connect.NewRequest(&ferryv1.ListAPIKeysRequest{}))
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	var listed *ferryv1.APIKey
	for _, k := range list.Msg.GetKeys() {
		if k.GetId() == created.Msg.GetKey().GetId() {
			listed = k
		}
	}
	if listed == nil || listed.GetLastUseTime() == nil || strings.Contains(list.Msg.String(), secret) {
		t.Fatalf("listed key = %v; want it with a last use time and no secret", listed)
	}

	if _, err := admin.keys.RevokeAPIKey(ctx, connect.NewRequest(&ferryv1.RevokeAPIKeyRequest{Id: listed.GetId()})); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	// Refused on the very next call, without waiting for the cache.
	_, err = e.whoAmI(e.bearer(secret))
	wantCode(t, err, connect.CodeUnauthenticated)

	// A key with a TTL stops working when it expires.
	short, err := admin.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{
		Name: "short", Role: "viewer", Ttl: durationpb.New(time.Hour),
	}))
	if err != nil {
		t.Fatalf("CreateAPIKey with ttl: %v", err)
	}
	e.secrets = append(e.secrets, short.Msg.GetSecret())
	if _, err := e.whoAmI(e.bearer(short.Msg.GetSecret())); err != nil {
		t.Fatalf("WhoAmI before expiry: %v", err)
	}
	e.clock.Advance(time.Hour)
	_, err = e.whoAmI(e.bearer(short.Msg.GetSecret()))
	wantCode(t, err, connect.CodeUnauthenticated)

	// Wrong secret with a known prefix, unknown prefix, malformed.
	known := created.Msg.GetKey().GetPrefix()
	for _, bad := range []string{
		auth.APIKeyKind + "_" + known + "_" + strings.Repeat("a", 40),
		auth.APIKeyKind + "_" + strings.Repeat("b", 12) + "_" + strings.Repeat("a", 40),
		"ferry_ak_short",
		"not-a-key",
	} {
		_, err := e.whoAmI(e.bearer(bad))
		wantCode(t, err, connect.CodeUnauthenticated)
	}
	e.scanDatabase(t)
}

func TestAPIKeyLegacyHashUpgraded(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	ctx := context.Background()
	sec, err := auth.NewSecret(auth.APIKeyKind)
	if err != nil {
		t.Fatal(err)
	}
	// As bootstrap and releases before 0003 stored keys: plain SHA-256.
	if _, err := e.store.Q.APIKeyInsert(ctx, db.APIKeyInsertParams{
		ID: uuid.New(), WorkspaceID: e.ws, Name: "old", Prefix: sec.Prefix, SecretHash: sec.Hash, Role: "viewer", Now: e.clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.whoAmI(e.bearer(sec.Full)); err != nil {
		t.Fatalf("WhoAmI with a version 1 key: %v", err)
	}
	row, err := e.store.Q.APIKeyGetByPrefix(ctx, sec.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if row.HashVersion != auth.HashHMAC || !e.pepper.Matches(sec.Full, row.SecretHash, auth.HashHMAC) {
		t.Fatalf("after use the key has hash version %d, want it rehashed to %d", row.HashVersion, auth.HashHMAC)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.whoAmI(e.bearer(sec.Full)); err != nil {
		t.Fatalf("WhoAmI after the upgrade: %v", err)
	}
}

func TestRoleCeiling(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	ctx := context.Background()
	admin := e.bearer(e.adminKey)

	_, err := admin.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: "root", Role: "owner"}))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = admin.users.CreateUser(ctx, connect.NewRequest(&ferryv1.CreateUserRequest{
		Email: "boss@example.com", DisplayName: "Boss", Password: "boss-password-123", Role: "owner",
	}))
	wantCode(t, err, connect.CodePermissionDenied)
	// An admin may not demote the owner.
	_, err = admin.users.AddMembership(ctx, connect.NewRequest(&ferryv1.AddMembershipRequest{Email: "owner@example.com", Role: "viewer"}))
	wantCode(t, err, connect.CodePermissionDenied)

	if _, err := admin.users.CreateServiceAccount(ctx, connect.NewRequest(&ferryv1.CreateServiceAccountRequest{Name: "deployer", Role: "operator"})); err != nil {
		t.Fatalf("CreateServiceAccount: %v", err)
	}
	// The service account is an operator: it cannot hold a developer key.
	_, err = admin.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: "sa", Role: "developer", ServiceAccount: "deployer"}))
	wantCode(t, err, connect.CodePermissionDenied)
	saKey, err := admin.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: "sa", Role: "operator", ServiceAccount: "deployer"}))
	if err != nil {
		t.Fatalf("CreateAPIKey for the service account: %v", err)
	}
	e.secrets = append(e.secrets, saKey.Msg.GetSecret())
	if saKey.Msg.GetKey().GetOwner() != "deployer" {
		t.Errorf("key owner = %q, want deployer", saKey.Msg.GetKey().GetOwner())
	}
	operator := e.bearer(saKey.Msg.GetSecret())
	_, err = operator.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: "up", Role: "admin"}))
	wantCode(t, err, connect.CodePermissionDenied)
	// An operator cannot revoke the admin's key.
	list, err := admin.keys.ListAPIKeys(ctx, connect.NewRequest(&ferryv1.ListAPIKeysRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var adminKeyID string
	for _, k := range list.Msg.GetKeys() {
		if k.GetName() == "admin" {
			adminKeyID = k.GetId()
		}
	}
	_, err = operator.keys.RevokeAPIKey(ctx, connect.NewRequest(&ferryv1.RevokeAPIKeyRequest{Id: adminKeyID}))
	wantCode(t, err, connect.CodePermissionDenied)

	// The owner may create an owner key.
	c := e.login(t, "owner@example.com", idTestPassword)
	owner := e.clients("Cookie", c.Name+"="+c.Value)
	ok, err := owner.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: "root", Role: "owner"}))
	if err != nil {
		t.Fatalf("owner CreateAPIKey(owner): %v", err)
	}
	e.secrets = append(e.secrets, ok.Msg.GetSecret())
	if ok.Msg.GetKey().GetOwner() != "owner@example.com" {
		t.Errorf("key owner = %q, want owner@example.com", ok.Msg.GetKey().GetOwner())
	}
}

func TestMembershipRemovalEndsAccess(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	ctx := context.Background()
	admin := e.bearer(e.adminKey)
	if _, err := admin.users.CreateUser(ctx, connect.NewRequest(&ferryv1.CreateUserRequest{
		Email: "ops@example.com", DisplayName: "Ops", Password: "operator-password-9", Role: "operator",
	})); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	e.secrets = append(e.secrets, "operator-password-9")
	c := e.login(t, "ops@example.com", "operator-password-9")
	ops := e.clients("Cookie", c.Name+"="+c.Value)
	key, err := ops.keys.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: "mine", Role: "viewer"}))
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	e.secrets = append(e.secrets, key.Msg.GetSecret())
	users, err := admin.users.ListUsers(ctx, connect.NewRequest(&ferryv1.ListUsersRequest{}))
	if err != nil || len(users.Msg.GetUsers()) != 2 {
		t.Fatalf("ListUsers = %v, %v; want the owner and ops", users, err)
	}

	if _, err := admin.users.RemoveMembership(ctx, connect.NewRequest(&ferryv1.RemoveMembershipRequest{Email: "ops@example.com"})); err != nil {
		t.Fatalf("RemoveMembership: %v", err)
	}
	_, err = e.whoAmI(ops)
	wantCode(t, err, connect.CodeUnauthenticated)
	_, err = e.whoAmI(e.bearer(key.Msg.GetSecret()))
	wantCode(t, err, connect.CodeUnauthenticated)
	_, err = e.clients("", "").auth.Login(ctx, connect.NewRequest(&ferryv1.LoginRequest{Email: "ops@example.com", Password: "operator-password-9"}))
	wantCode(t, err, connect.CodePermissionDenied)
	e.scanDatabase(t)
}

// TestCredentialsOnlyFromHeaders checks that a valid credential in the URL
// query is ignored, and that an API key in the session cookie is refused.
func TestCredentialsOnlyFromHeaders(t *testing.T) {
	t.Parallel()
	e := setupIdentityEnv(t, identity.Rate{})
	for _, query := range []string{"api_key", "token", "access_token", "session", auth.SessionCookie} {
		t.Run(query, func(t *testing.T) {
			t.Parallel()
			url := e.url + ferryv1connect.AuthServiceWhoAmIProcedure + "?" + query + "=" + e.adminKey
			req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "unauthenticated") {
				t.Fatalf("WhoAmI with ?%s= answered %d %s, want 401 unauthenticated", query, resp.StatusCode, body)
			}
		})
	}
	t.Run("API key in the cookie", func(t *testing.T) {
		t.Parallel()
		_, err := e.whoAmI(e.clients("Cookie", auth.SessionCookie+"="+e.adminKey))
		wantCode(t, err, connect.CodeUnauthenticated)
	})
}
