package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const (
	// sessionFileName is the file in the data directory where ferry login
	// keeps the session token (mode 0600); client commands use it when no
	// API key is given.
	sessionFileName = "session"
	// sessionCookieName is the cookie the server sets on login.
	sessionCookieName = "ferry_session"
	// maxPasswordBytes bounds a password read from a file.
	maxPasswordBytes = 1024
)

// readPassword reads a password from path ("-" is stdin), dropping one
// trailing newline.
func readPassword(env Env, path string) (string, error) {
	var src io.Reader = env.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		defer f.Close()
		src = f
	}
	data, err := io.ReadAll(io.LimitReader(src, maxPasswordBytes+3))
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if pw == "" || len(pw) > maxPasswordBytes {
		return "", fmt.Errorf("password file %s: want 1 to %d bytes", path, maxPasswordBytes)
	}
	return pw, nil
}

// loginRun logs in with an email and password. The CLI keeps the session
// token the server sets in its cookie, in the data directory with mode 0600,
// and sends it as a bearer credential until ferry logout or its expiry.
// Programs should use API keys instead.
func loginRun(ctx context.Context, env Env, args []string) error {
	f := newFlags("login", "",
		"Log in with an email and password. The session (valid for up to 7 days, ended\n"+
			"after 12 hours unused) is saved in the data directory and used by later commands\n"+
			"unless --api-key or FERRY_API_KEY is given. End it with ferry logout.")
	conn := addConnFlags(f)
	email := f.String("email", "", "your email address")
	pwFile := f.String("password-file", "-", "file holding the password, or - for standard input")
	workspace := f.String("workspace", "", "workspace to log in to (needed when you belong to several)")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if *email == "" {
		return f.usageErr("--email is required")
	}
	password, err := readPassword(env, *pwFile)
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	if c.sessionFilePath == "" {
		return errors.New("no data directory to keep the session in: pass --data-dir or set FERRY_DATA_DIR")
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.auth.Login(cctx, connect.NewRequest(&ferryv1.LoginRequest{
		Email: *email, Password: password, Workspace: *workspace,
	}))
	if err != nil {
		return c.explain("log in", err)
	}
	token := ""
	for _, line := range resp.Header().Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == sessionCookieName {
			token = ck.Value
		}
	}
	if token == "" {
		return errors.New("log in: the server set no session cookie")
	}
	if err := writeSecretFile(c.sessionFilePath, token); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Logged in to workspace %s as %s (%s).\n", clean(resp.Msg.GetWorkspace()),
		clean(resp.Msg.GetUser().GetEmail()), clean(resp.Msg.GetUser().GetRole()))
	return nil
}

// writeSecretFile writes secret to path with mode 0600, replacing it.
func writeSecretFile(path, secret string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".session-*")
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(secret + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Close()); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

func logoutRun(ctx context.Context, env Env, args []string) error {
	f := newFlags("logout", "", "End the session of ferry login on the server and forget it here.")
	conn := addConnFlags(f)
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	if _, err := unary(ctx, c, "log out", c.auth.Logout, &ferryv1.LogoutRequest{}); err != nil {
		return err
	}
	if err := os.Remove(c.sessionFilePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("forget session: %w", err)
	}
	fmt.Fprintln(env.Stdout, "Logged out.")
	return nil
}

func userCreate(ctx context.Context, env Env, args []string) error {
	f := newFlags("user create", "EMAIL",
		"Create a person with a password and make them a member of your workspace.\n"+
			"Nobody can grant a role above their own.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	name := f.String("name", "", "display name (default: the email)")
	role := f.String("role", "viewer", "role in the workspace: owner, admin, developer, operator or viewer")
	pwFile := f.String("password-file", "-", "file holding the initial password (at least 12 bytes), or - for standard input")
	pos, err := f.parse(env, args, "EMAIL")
	if err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	password, err := readPassword(env, *pwFile)
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "create user", c.users.CreateUser, &ferryv1.CreateUserRequest{
		Email: pos[0], DisplayName: firstNonEmpty(*name, pos[0]), Password: password, Role: *role,
	})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetUser())
	}
	fmt.Fprintf(env.Stdout, "Created user %s (%s).\n", clean(resp.GetUser().GetEmail()), clean(resp.GetUser().GetRole()))
	return nil
}

func apiKeyCreate(ctx context.Context, env Env, args []string) error {
	f := newFlags("apikey create", "NAME",
		"Issue an API key in your workspace. The key is printed once; keep it secret.\n"+
			"Its role may not exceed yours (nor the service account's).")
	conn := addConnFlags(f)
	output := outputFlag(f)
	role := f.String("role", "viewer", "role of the key: owner, admin, developer, operator or viewer")
	ttl := f.Duration("ttl", 0, "expire the key after this `duration` (e.g. 720h); 0 never expires")
	sa := f.String("service-account", "", "service account to own the key (default: you)")
	pos, err := f.parse(env, args, "NAME")
	if err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *ttl < 0 {
		return f.usageErr("--ttl must not be negative")
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	req := &ferryv1.CreateAPIKeyRequest{Name: pos[0], Role: *role, ServiceAccount: *sa}
	if *ttl > 0 {
		req.Ttl = durationpb.New(*ttl)
	}
	resp, err := unary(ctx, c, "create API key", c.apiKeys.CreateAPIKey, req)
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp)
	}
	fmt.Fprintf(env.Stdout, "Created API key %s (%s, id %s). It is shown only now:\n\n    %s\n\n",
		clean(resp.GetKey().GetName()), clean(resp.GetKey().GetRole()), clean(resp.GetKey().GetId()), clean(resp.GetSecret()))
	return nil
}

func apiKeyList(ctx context.Context, env Env, args []string) error {
	f := newFlags("apikey ls", "", "List the API keys of your workspace, without their secrets.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list API keys", c.apiKeys.ListAPIKeys, &ferryv1.ListAPIKeysRequest{})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetKeys()...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(resp.GetKeys()))
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, k := range resp.GetKeys() {
		rows = append(rows, []string{
			clean(k.GetId()), clean(k.GetName()), clean(k.GetPrefix()), clean(k.GetRole()), orDash(clean(k.GetOwner())),
			fm.timestamp(k.GetCreateTime()), fm.timestamp(k.GetExpireTime()),
			fm.timestamp(k.GetLastUseTime()), fm.timestamp(k.GetRevokeTime()),
		})
	}
	return writeTable(env.Stdout, []string{"ID", "NAME", "PREFIX", "ROLE", "OWNER", "CREATED", "EXPIRES", "LAST USED", "REVOKED"}, rows)
}

func apiKeyRevoke(ctx context.Context, env Env, args []string) error {
	f := newFlags("apikey revoke", "ID", "Revoke an API key; it is refused from its next call.")
	conn := addConnFlags(f)
	pos, err := f.parse(env, args, "ID")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	if _, err := unary(ctx, c, "revoke API key", c.apiKeys.RevokeAPIKey, &ferryv1.RevokeAPIKeyRequest{Id: pos[0]}); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "API key %s revoked.\n", clean(pos[0]))
	return nil
}
