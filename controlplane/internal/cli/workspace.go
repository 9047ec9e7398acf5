package cli

import (
	"context"
	"fmt"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func workspaceCreate(ctx context.Context, env Env, args []string) error {
	f := newFlags("workspace create", "NAME",
		"Create a workspace, an empty tenant with one member, its owner: the person given\n"+
			"with --owner, or you. Only admins and owners of the installation's first workspace\n"+
			"may create workspaces. The owner logs in to it with ferry login --workspace NAME.")
	conn := addConnFlags(f)
	output := outputFlag(f)
	display := f.String("display-name", "", "name people read (default: NAME)")
	owner := f.String("owner", "", "`email` of an existing person to own the workspace (default: you; "+
		"required with an API key that belongs to no person)")
	pos, err := f.parse(env, args, "NAME")
	if err != nil {
		return err
	}
	if err := checkOutput(f, *output); err != nil {
		return err
	}
	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	resp, err := unary(ctx, c, "create workspace", c.workspaces.CreateWorkspace, &ferryv1.CreateWorkspaceRequest{
		Name: pos[0], DisplayName: *display, OwnerEmail: *owner,
	})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp)
	}
	fmt.Fprintf(env.Stdout, "Created workspace %s, owned by %s.\n",
		clean(resp.GetWorkspace().GetName()), clean(resp.GetOwner().GetEmail()))
	return nil
}

func workspaceList(ctx context.Context, env Env, args []string) error {
	f := newFlags("workspace ls", "", "List the workspaces you are a member of, with your role in each.")
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
	resp, err := unary(ctx, c, "list workspaces", c.workspaces.ListWorkspaces, &ferryv1.ListWorkspacesRequest{})
	if err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(env.Stdout, resp.GetWorkspaces()...)
	}
	fm := newFormatter(env)
	rows := make([][]string, 0, len(resp.GetWorkspaces()))
	for _, m := range resp.GetWorkspaces() {
		ws := m.GetWorkspace()
		rows = append(rows, []string{
			clean(ws.GetName()), clean(ws.GetDisplayName()), clean(m.GetRole()), fm.timestamp(ws.GetCreateTime()),
		})
	}
	return writeTable(env.Stdout, []string{"NAME", "DISPLAY NAME", "ROLE", "CREATED"}, rows)
}
