package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
)

// buildTimeout bounds compiling a test program and building its image.
const buildTimeout = 5 * time.Minute

// PayloadPackage is the import path of the test program most launcher tests
// run; see its package documentation for its flags.
const PayloadPackage = "github.com/ferryhq/ferry/internal/dockertest/payload"

// BuildImage compiles the Go package goPackage (an import path in this
// module) into a static Linux binary and builds an image tagged tag that
// holds only that binary, as its entrypoint. It returns the binary's path in
// the image, such as "/payload". An image is built once per tag and test
// process; later calls return at once. It fails t on any error.
func (e *Engine) BuildImage(t testing.TB, tag, goPackage string) string {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if bin, ok := e.images[tag]; ok {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	bin, err := e.buildImage(ctx, tag, goPackage)
	if err != nil {
		t.Fatalf("dockertest: build image %s from %s: %v", tag, goPackage, err)
	}
	e.images[tag] = bin
	return bin
}

func (e *Engine) buildImage(ctx context.Context, tag, goPackage string) (string, error) {
	name := path.Base(goPackage)
	dir, err := os.MkdirTemp("", "dockertest-build")
	if err != nil {
		return "", fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(dir)

	binPath := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", binPath, goPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	binary, err := os.ReadFile(binPath)
	if err != nil {
		return "", fmt.Errorf("read built program: %w", err)
	}

	inImage := "/" + name
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s %s\nENTRYPOINT [%q]\n", name, inImage, inImage)
	buildContext, err := tarOf(map[string]tarFile{
		"Dockerfile": {data: []byte(dockerfile), mode: 0o644},
		name:         {data: binary, mode: 0o755},
	})
	if err != nil {
		return "", err
	}
	resp, err := e.client.ImageBuild(ctx, buildContext, build.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	defer resp.Body.Close()
	if err := readProgress(resp.Body); err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	return inImage, nil
}

// tarFile is one file of a build context.
type tarFile struct {
	data []byte
	mode int64
}

// tarOf returns a tar archive of files, for a build context.
func tarOf(files map[string]tarFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, f := range files {
		hdr := &tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write build context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("write build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write build context: %w", err)
	}
	return &buf, nil
}

// readProgress reads a stream of JSON progress messages from the engine (as
// sent by build, push and pull) to its end and returns the error it reports,
// if any.
func readProgress(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		if msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}
