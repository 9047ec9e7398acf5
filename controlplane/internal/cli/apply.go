package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func runApply(ctx context.Context, env Env, args []string) error {
	f := newFlags("apply", "-f FILE",
		"Create or update the work pools, queues and deployments described in a YAML file\n"+
			"(top-level lists pools, queues and deployments; a deployment may list schedules).\n"+
			"The whole file is checked before anything is sent; then pools, queues, deployments\n"+
			"and schedules are applied in that order.\n"+
			"Applying the same file again changes nothing.")
	conn := addConnFlags(f)
	path := f.String("f", "", "the YAML file to apply, or - to read standard input")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	if *path == "" {
		return f.usageErr("-f FILE is required")
	}

	name, data, err := readApplyFile(env, *path)
	if err != nil {
		return err
	}
	file, err := parseApplyFile(name, data)
	if err != nil {
		return err
	}
	if len(file.Pools)+len(file.Queues)+len(file.Deployments) == 0 {
		fmt.Fprintf(env.Stdout, "%s: nothing to apply\n", name)
		return nil
	}

	c, err := conn.dial(env)
	if err != nil {
		return err
	}
	if err := applyPools(ctx, env.Stdout, c, file.Pools); err != nil {
		return err
	}
	if err := applyQueues(ctx, env.Stdout, c, file.Queues); err != nil {
		return err
	}
	if err := applyDeployments(ctx, env.Stdout, c, file.Deployments); err != nil {
		return err
	}
	return applySchedules(ctx, env, c, file.Schedules)
}

// readApplyFile reads the file at path, or standard input for "-", and
// returns the name to use in messages.
func readApplyFile(env Env, path string) (string, []byte, error) {
	name, r := path, env.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", nil, fmt.Errorf("read apply file: %w", err)
		}
		defer f.Close()
		r = f
	} else {
		name = "<stdin>"
	}
	// One byte over the limit lets the parser say the file is too large.
	data, err := io.ReadAll(io.LimitReader(r, maxApplyFileBytes+1))
	if err != nil {
		return "", nil, fmt.Errorf("read apply file %s: %w", name, err)
	}
	return name, data, nil
}

// applyPools applies each pool that differs from the server's, and reports
// each as created, updated or unchanged.
func applyPools(ctx context.Context, w io.Writer, c *client, pools []*ferryv1.ApplyWorkPoolRequest) error {
	if len(pools) == 0 {
		return nil
	}
	list, err := unary(ctx, c, "list work pools", c.pools.ListWorkPools, &ferryv1.ListWorkPoolsRequest{})
	if err != nil {
		return err
	}
	existing := map[string]*ferryv1.WorkPool{}
	for _, p := range list.GetWorkPools() {
		existing[p.GetName()] = p
	}
	for _, req := range pools {
		if cur, ok := existing[req.GetName()]; ok && samePool(cur, req) {
			fmt.Fprintf(w, "work pool %q unchanged\n", req.GetName())
			continue
		}
		resp, err := unary(ctx, c, fmt.Sprintf("apply work pool %q", req.GetName()), c.pools.ApplyWorkPool, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "work pool %q %s\n", req.GetName(), createdOrUpdated(resp.GetCreated()))
	}
	return nil
}

func samePool(cur *ferryv1.WorkPool, req *ferryv1.ApplyWorkPoolRequest) bool {
	return cur.GetType() == req.GetType() &&
		cur.GetDescription() == req.GetDescription() &&
		cur.GetPaused() == req.GetPaused() &&
		cur.GetConcurrencyLimit() == req.GetConcurrencyLimit()
}

// applyQueues applies each queue that differs from the server's, and
// reports each as created, updated or unchanged.
func applyQueues(ctx context.Context, w io.Writer, c *client, queues []*ferryv1.ApplyWorkQueueRequest) error {
	existing := map[string]map[string]*ferryv1.WorkQueue{}
	for _, req := range queues {
		inPool, listed := existing[req.GetPool()]
		if !listed {
			list, err := unary(ctx, c, fmt.Sprintf("list work queues of pool %q", req.GetPool()),
				c.pools.ListWorkQueues, &ferryv1.ListWorkQueuesRequest{Pool: req.GetPool()})
			// A pool that does not exist has no queues; applying the queue
			// then fails with the server's explanation.
			if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
				return err
			}
			inPool = map[string]*ferryv1.WorkQueue{}
			for _, q := range list.GetWorkQueues() {
				inPool[q.GetName()] = q
			}
			existing[req.GetPool()] = inPool
		}
		label := req.GetPool() + "/" + req.GetName()
		if cur, ok := inPool[req.GetName()]; ok && sameQueue(cur, req) {
			fmt.Fprintf(w, "work queue %q unchanged\n", label)
			continue
		}
		resp, err := unary(ctx, c, fmt.Sprintf("apply work queue %q", label), c.pools.ApplyWorkQueue, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "work queue %q %s\n", label, createdOrUpdated(resp.GetCreated()))
	}
	return nil
}

func sameQueue(cur *ferryv1.WorkQueue, req *ferryv1.ApplyWorkQueueRequest) bool {
	return cur.GetPriority() == req.GetPriority() &&
		cur.GetPaused() == req.GetPaused() &&
		cur.GetConcurrencyLimit() == req.GetConcurrencyLimit()
}

// applyDeployments applies each deployment; the server records a new
// version only when the spec changed.
func applyDeployments(ctx context.Context, w io.Writer, c *client, deployments []*ferryv1.ApplyDeploymentRequest) error {
	for _, req := range deployments {
		resp, err := unary(ctx, c, fmt.Sprintf("apply deployment %q", req.GetName()), c.deployments.ApplyDeployment, req)
		if err != nil {
			return err
		}
		if resp.GetDeployment() == nil {
			return errors.New("apply deployment: the server returned no deployment")
		}
		verdict := "unchanged"
		if resp.GetChanged() {
			verdict = "changed"
		}
		fmt.Fprintf(w, "deployment %q version %d (%s)\n", req.GetName(), resp.GetDeployment().GetVersion(), verdict)
	}
	return nil
}

func createdOrUpdated(created bool) string {
	if created {
		return "created"
	}
	return "updated"
}
