package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release version, set at build time with
// -ldflags "-X github.com/ferryhq/ferry/controlplane/internal/cli.version=v1.2.3".
// When empty, the module version and VCS revision recorded by the Go
// toolchain are shown instead.
var version string

func runVersion(_ context.Context, env Env, args []string) error {
	f := newFlags("version", "", "Print the version of this ferry binary.")
	if _, err := f.parse(env, args); err != nil {
		return err
	}
	_, err := fmt.Fprintf(env.Stdout, "ferry %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

// buildVersion describes the build: the version set at link time, else the
// module version, else "devel", followed by the VCS revision when known.
func buildVersion() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "devel"
	}
	if !ok {
		return v
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if revision != "" {
		v += " " + revision
		if modified == "true" {
			v += "-dirty"
		}
	}
	return v
}
