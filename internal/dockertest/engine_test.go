package dockertest_test

import (
	"context"
	"testing"

	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/ferryhq/ferry/internal/dockertest"
)

func TestMain(m *testing.M) { dockertest.Main(m) }

func TestEngine(t *testing.T) {
	t.Parallel()
	e := dockertest.Start(t)
	if again := dockertest.Start(t); again != e {
		t.Errorf("second Start returned another engine")
	}

	// The engine answers at Host, to any client.
	cli, err := client.NewClientWithOpts(client.WithHost(e.Host()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	if _, err := cli.Ping(ctx); err != nil {
		t.Fatalf("ping %s: %v", e.Host(), err)
	}
	info, err := cli.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Driver != e.StorageDriver() {
		t.Errorf("engine storage driver = %q, StorageDriver() = %q", info.Driver, e.StorageDriver())
	}

	bin := e.BuildImage(t, "dockertest/payload:test", dockertest.PayloadPackage)
	if bin != "/payload" {
		t.Errorf("BuildImage = %q, want /payload", bin)
	}
	img, err := cli.ImageInspect(ctx, "dockertest/payload:test")
	if err != nil {
		t.Fatalf("inspect built image: %v", err)
	}
	if diff := cmp.Diff([]string{"/payload"}, []string(img.Config.Entrypoint)); diff != "" {
		t.Errorf("entrypoint mismatch (-want +got):\n%s", diff)
	}
	if again := e.BuildImage(t, "dockertest/payload:test", dockertest.PayloadPackage); again != bin {
		t.Errorf("second BuildImage = %q, want %q", again, bin)
	}
}
