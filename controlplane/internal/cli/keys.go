package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// outputAgent is the --output of `ferry keys ls` that prints the agent's
// trusted-keys file.
const outputAgent = "agent"

func keysRotate(ctx context.Context, env Env, args []string) error {
	f := newFlags("keys rotate", "",
		"Create a new work-order signing key. Older keys stay valid until retired, so orders\n"+
			"already signed still verify. Agents refuse orders signed with a key they do not\n"+
			"trust: give them time with --activate-in, update their trusted-keys files\n"+
			"(ferry keys ls --output agent), then let the new key activate.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	activateIn := f.Duration("activate-in", 0, "activate the new key after this `duration` (e.g. 24h) instead of at once")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	if *activateIn < 0 {
		return f.usageErr("--activate-in must not be negative")
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	req := &ferryv1.RotateSigningKeyRequest{}
	if *activateIn > 0 {
		req.ActivateDelay = durationpb.New(*activateIn)
	}
	resp, err := unary(ctx, c, "rotate signing key", c.signingKeys.RotateSigningKey, req)
	if err != nil {
		return err
	}
	key := resp.GetKey()
	if *output == outputJSON {
		return writeJSON(env.Stdout, key)
	}
	fm := newFormatter(env)
	if key.GetState() == ferryv1.SigningKeyState_SIGNING_KEY_STATE_PENDING {
		fmt.Fprintf(env.Stdout, "Created signing key %s; it signs work orders from %s.\n",
			clean(key.GetId()), fm.timestamp(key.GetActivateTime()))
		fmt.Fprintf(env.Stdout, "Before then, add it to every agent's trusted keys: ferry keys ls --output agent\n")
		return nil
	}
	fmt.Fprintf(env.Stdout, "Created signing key %s; it signs work orders from now on.\n", clean(key.GetId()))
	fmt.Fprintf(env.Stdout, "Agents that do not trust it refuse new orders: update their trusted keys with "+
		"ferry keys ls --output agent\n")
	return nil
}

func keysList(ctx context.Context, env Env, args []string) error {
	f := newFlags("keys ls", "",
		"List the work-order signing keys. With --output agent, print the keys agents should\n"+
			"trust in the format of ferry-agent's trusted-keys file:\n\n"+
			"    ferry keys ls --output agent > trusted-keys")
	conn := addConnFlags(f)
	output := f.String("output", outputTable,
		"output format: table, json (protojson, one object per line) or agent (the agent's trusted-keys file)")
	all := f.Bool("all", false, "list retired keys too (never with --output agent: agents must not trust them)")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	switch *output {
	case outputTable, outputJSON, outputAgent:
	default:
		return f.usageErr("--output must be table, json or agent, not %q", *output)
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "list signing keys", c.signingKeys.ListSigningKeys,
		&ferryv1.ListSigningKeysRequest{IncludeRetired: *all && *output != outputAgent})
	if err != nil {
		return err
	}
	keys := resp.GetKeys()
	switch *output {
	case outputJSON:
		return writeJSON(env.Stdout, keys...)
	case outputAgent:
		return writeTrustedKeys(env.Stdout, keys, c.server, time.Now())
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		retired := "-"
		if k.GetRetireTime() != nil {
			retired = fm.timestamp(k.GetRetireTime())
		}
		rows = append(rows, []string{
			clean(k.GetId()), signingKeyStateLabel(k.GetState()), fm.timestamp(k.GetCreateTime()),
			fm.timestamp(k.GetActivateTime()), retired, base64.StdEncoding.EncodeToString(k.GetPublicKey()),
		})
	}
	return writeTable(env.Stdout, []string{"ID", "STATE", "CREATED", "ACTIVATES", "RETIRED", "PUBLIC KEY"}, rows)
}

func keysRetire(ctx context.Context, env Env, args []string) error {
	f := newFlags("keys retire", "ID",
		"Retire a work-order signing key: the control plane stops using it, and agents may\n"+
			"drop it from their trusted keys. The active key cannot be retired: rotate first.")
	conn := addConnFlags(f)
	pos, err := f.parse(env, args, "ID")
	if err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	if _, err := unary(ctx, c, "retire signing key", c.signingKeys.RetireSigningKey,
		&ferryv1.RetireSigningKeyRequest{Id: pos[0]}); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "signing key %s retired; remove it from the agents' trusted keys\n", clean(pos[0]))
	return nil
}

// writeTrustedKeys prints keys, less retired ones, in the format of
// ferry-agent's trusted-keys file: "KEY_ID BASE64_PUBLIC_KEY" lines, with
// comments after '#'.
func writeTrustedKeys(w io.Writer, keys []*ferryv1.SigningKey, server string, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Work-order signing keys of the Ferry server at %s,\n", clean(server))
	fmt.Fprintf(&b, "# written by 'ferry keys ls --output agent' at %s.\n", now.UTC().Format(time.RFC3339))
	b.WriteString("# ferry-agent accepts orders signed with any key below.\n")
	for _, k := range keys {
		if k.GetState() == ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED || k.GetRetireTime() != nil {
			continue
		}
		fmt.Fprintf(&b, "%s %s  # %s, activates %s\n", clean(k.GetId()),
			base64.StdEncoding.EncodeToString(k.GetPublicKey()), signingKeyStateLabel(k.GetState()),
			k.GetActivateTime().AsTime().UTC().Format(time.RFC3339))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write trusted keys: %w", err)
	}
	return nil
}

// signingKeyStateLabel is the short name of a key state: "ACTIVE".
func signingKeyStateLabel(s ferryv1.SigningKeyState) string {
	return strings.TrimPrefix(s.String(), "SIGNING_KEY_STATE_")
}
