package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Env is what a command may use of its process: the standard streams and the
// environment. Main replaces a nil field with an empty stand-in (a nil
// Getenv reports every variable unset).
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	Getenv func(string) string
}

// Command is one subcommand of ferry.
type Command struct {
	// Name is the words that select the command, separated by single
	// spaces: "version", "run start", "agent token create".
	Name string
	// Summary is a one-line description shown by ferry help.
	Summary string
	// Run executes the command with the arguments that follow its name.
	// A returned *[ExitError] chooses the exit code; any other error is
	// printed and exits with status 1.
	Run func(ctx context.Context, env Env, args []string) error
}

// ExitError makes [Main] exit with Code. Main prints Err, when it is not nil,
// to stderr.
type ExitError struct {
	Code int
	Err  error
}

// Error returns the message of the wrapped error, or the exit code when
// there is none.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// Exit codes other than the 0 and 1 of success and failure.
const (
	// exitUsage is the status of a command line that could not be parsed.
	exitUsage = 2
	// exitInterrupted is the status after the context was cancelled, as
	// shells report for SIGINT (128 + 2).
	exitInterrupted = 130
)

// usageError is a mistake on the command line; Main prints it with a hint
// and exits with [exitUsage].
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelpShown reports that a command printed its usage because -h was given.
var errHelpShown = errors.New("help shown")

// Main runs the ferry command line: args are the arguments after the program
// name. It dispatches to the matching command among [ClientCommands] and
// extra, prints any error to env.Stderr prefixed with "ferry: ", and returns
// the process exit code: 0 on success, 1 on failure, 2 for a usage mistake,
// or the code of an [ExitError].
//
// Main does not install signal handlers: the caller should cancel ctx on
// SIGINT and SIGTERM.
func Main(ctx context.Context, env Env, args []string, extra ...Command) int {
	env = env.normalize()
	commands := append(ClientCommands(), extra...)
	slices.SortStableFunc(commands, func(a, b Command) int { return strings.Compare(a.Name, b.Name) })

	if len(args) == 0 {
		printCommands(env.Stderr, commands, "")
		return exitUsage
	}
	if isHelp(args[0]) {
		printCommands(env.Stdout, commands, "")
		return 0
	}

	cmd, rest, ok := findCommand(commands, args)
	if !ok {
		return unknownCommand(env, commands, args)
	}
	return report(env, cmd.Run(ctx, env, rest))
}

// findCommand returns the command whose name matches the most leading words
// of args, and the arguments after those words.
func findCommand(commands []Command, args []string) (Command, []string, bool) {
	var best Command
	bestLen := 0
	for _, c := range commands {
		words := strings.Fields(c.Name)
		if len(words) > bestLen && len(words) <= len(args) && slices.Equal(words, args[:len(words)]) {
			best, bestLen = c, len(words)
		}
	}
	return best, args[bestLen:], bestLen > 0
}

// unknownCommand explains args that name no command. When they start with
// a group ("run", "agent token") it lists the group's commands.
func unknownCommand(env Env, commands []Command, args []string) int {
	prefix := ""
	for i := range args {
		candidate := strings.Join(args[:i+1], " ")
		if !hasGroup(commands, candidate) {
			break
		}
		prefix = candidate
	}
	words := len(strings.Fields(prefix))
	if prefix != "" && words < len(args) && isHelp(args[words]) {
		printCommands(env.Stdout, commands, prefix)
		return 0
	}
	switch {
	case prefix == "":
		fmt.Fprintf(env.Stderr, "ferry: unknown command %q; run 'ferry help' for the list\n", args[0])
	case words < len(args):
		fmt.Fprintf(env.Stderr, "ferry: unknown command %q\n\n", strings.Join(args[:words+1], " "))
		printCommands(env.Stderr, commands, prefix)
	default:
		printCommands(env.Stderr, commands, prefix)
	}
	return exitUsage
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "--help" || arg == "-help"
}

func hasGroup(commands []Command, prefix string) bool {
	for _, c := range commands {
		if strings.HasPrefix(c.Name, prefix+" ") {
			return true
		}
	}
	return false
}

// printCommands lists the commands whose name starts with prefix (all of
// them when prefix is empty).
func printCommands(w io.Writer, commands []Command, prefix string) {
	if prefix == "" {
		fmt.Fprintf(w, "Usage: ferry COMMAND [flags] [arguments]\n\nCommands:\n")
	} else {
		fmt.Fprintf(w, "Usage: ferry %s COMMAND [flags] [arguments]\n\nCommands:\n", prefix)
	}
	width := 0
	var shown []Command
	for _, c := range commands {
		if prefix == "" || strings.HasPrefix(c.Name, prefix+" ") {
			shown = append(shown, c)
			width = max(width, len(c.Name))
		}
	}
	for _, c := range shown {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun 'ferry COMMAND -h' for the flags of a command.\n")
}

// report prints err and returns the exit code it stands for.
func report(env Env, err error) int {
	var exit *ExitError
	var usage *usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return 0
	case errors.As(err, &exit):
		if exit.Err != nil {
			fmt.Fprintf(env.Stderr, "ferry: %v\n", exit.Err)
		}
		return exit.Code
	case errors.As(err, &usage):
		fmt.Fprintf(env.Stderr, "ferry: %v\n", usage)
		return exitUsage
	default:
		fmt.Fprintf(env.Stderr, "ferry: %v\n", err)
		return 1
	}
}

// normalize fills the nil fields of e with empty stand-ins.
func (e Env) normalize() Env {
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Stdin == nil {
		e.Stdin = strings.NewReader("")
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	return e
}

// ClientCommands returns the commands that talk to a Ferry server, plus
// version. The caller adds the server-side commands (server, migrate).
func ClientCommands() []Command {
	return []Command{
		{Name: "apply", Summary: "create or update work pools, queues and deployments from a YAML file", Run: runApply},
		{Name: "run start", Summary: "start a run of a deployment, optionally watching it to the end", Run: runStart},
		{Name: "run ls", Summary: "list runs, newest first", Run: runList},
		{Name: "run get", Summary: "show one run", Run: runGet},
		{Name: "run logs", Summary: "print a run's logs, or follow them with -f", Run: runLogs},
		{Name: "run cancel", Summary: "cancel a run", Run: runCancel},
		{Name: "run retry", Summary: "start a new attempt of a failed, crashed or cancelled run", Run: runRetry},
		{Name: "run history", Summary: "show a run's state changes", Run: runHistory},
		{Name: "pool ls", Summary: "list work pools", Run: poolList},
		{Name: "deployment ls", Summary: "list deployments", Run: deploymentList},
		{Name: "deployment get", Summary: "show a deployment and its current version", Run: deploymentGet},
		{Name: "schedule apply", Summary: "create or update a schedule of a deployment", Run: scheduleApply},
		{Name: "schedule ls", Summary: "list schedules and their next fire times", Run: scheduleList},
		{Name: "schedule preview", Summary: "show a schedule's next fire times in its zone and in UTC", Run: schedulePreview},
		{Name: "schedule backfill", Summary: "create a schedule's runs for a past time range", Run: scheduleBackfill},
		{Name: "schedule pause", Summary: "pause a schedule and cancel its future runs", Run: schedulePause},
		{Name: "schedule resume", Summary: "resume a paused schedule", Run: scheduleResume},
		{Name: "schedule rm", Summary: "delete a schedule and cancel its future runs", Run: scheduleDelete},
		{Name: "agent ls", Summary: "list the agents of a work pool", Run: agentList},
		{Name: "agent drain", Summary: "stop offering new runs to an agent; its running runs carry on", Run: agentDrainCommand(true)},
		{Name: "agent undrain", Summary: "lift a drain request so the agent is offered runs again", Run: agentDrainCommand(false)},
		{Name: "agent token create", Summary: "issue an agent token for a work pool", Run: agentTokenCreate},
		{Name: "agent token ls", Summary: "list the agent tokens of a work pool", Run: agentTokenList},
		{Name: "agent token revoke", Summary: "revoke an agent token", Run: agentTokenRevoke},
		{Name: "keys rotate", Summary: "create a new work-order signing key", Run: keysRotate},
		{Name: "keys ls", Summary: "list the work-order signing keys, or print them for agents to trust", Run: keysList},
		{Name: "keys retire", Summary: "retire a work-order signing key", Run: keysRetire},
		{Name: "audit ls", Summary: "list the audit trail: mutating and denied calls, newest first", Run: auditList},
		{Name: "policy test", Summary: "evaluate an input against a Rego file and the server's policies, and explain the decision", Run: policyTest},
		{Name: "policy apply", Summary: "upload a workspace policy and make it the active version", Run: policyApply},
		{Name: "policy ls", Summary: "list the workspace's policies", Run: policyList},
		{Name: "login", Summary: "log in with an email and password; later commands use the session", Run: loginRun},
		{Name: "logout", Summary: "end the session of ferry login", Run: logoutRun},
		{Name: "user create", Summary: "create a person and make them a member of your workspace", Run: userCreate},
		{Name: "apikey create", Summary: "issue an API key (shown once)", Run: apiKeyCreate},
		{Name: "apikey ls", Summary: "list the API keys of your workspace", Run: apiKeyList},
		{Name: "apikey revoke", Summary: "revoke an API key", Run: apiKeyRevoke},
		{Name: "workspace create", Summary: "create a workspace with an owner (installation admins only)", Run: workspaceCreate},
		{Name: "workspace ls", Summary: "list your workspaces and your role in each", Run: workspaceList},
		{Name: "run explain", Summary: "say why a run is not running", Run: runExplain},
		{Name: "limit apply", Summary: "create or update a named concurrency limit", Run: limitApply},
		{Name: "limit ls", Summary: "list named concurrency limits and the runs holding them", Run: limitList},
		{Name: "limit rm", Summary: "delete a named concurrency limit", Run: limitRemove},
		{Name: "deployment pause", Summary: "stop offering a deployment's runs", Run: pauseCommand("deployment", true)},
		{Name: "deployment resume", Summary: "offer a paused deployment's runs again", Run: pauseCommand("deployment", false)},
		{Name: "pool pause", Summary: "stop offering a work pool's runs", Run: pauseCommand("pool", true)},
		{Name: "pool resume", Summary: "offer a paused work pool's runs again", Run: pauseCommand("pool", false)},
		{Name: "queue pause", Summary: "stop offering a work queue's runs", Run: pauseCommand("queue", true)},
		{Name: "queue resume", Summary: "offer a paused work queue's runs again", Run: pauseCommand("queue", false)},
		{Name: "version", Summary: "print the version of this ferry binary", Run: runVersion},
	}
}
