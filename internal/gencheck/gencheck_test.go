package gencheck

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// repoRoot returns the repository root, two directories above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestGeneratedCodeIsCurrent regenerates into a scratch copy of the inputs
// and compares the result with the committed files.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	root := repoRoot(t)
	tools := filepath.Join(root, ".tools", "bin")
	for _, tool := range []string{"buf", "sqlc", "protoc-gen-go", "protoc-gen-connect-go"} {
		if _, err := os.Stat(filepath.Join(tools, tool)); err != nil {
			t.Fatalf("%s is not installed in .tools/bin: run `make tools` (make test does)", tool)
		}
	}
	scratch := t.TempDir()
	for _, p := range []string{"proto/ferry", "queries", "buf.yaml", "buf.gen.yaml", "sqlc.yaml"} {
		copyTree(t, filepath.Join(root, p), filepath.Join(scratch, p))
	}
	if err := os.MkdirAll(filepath.Join(scratch, ".tools"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tools, filepath.Join(scratch, ".tools", "bin")); err != nil {
		t.Fatal(err)
	}
	// The TypeScript generator is an npm package of the web UI.
	modules := filepath.Join(root, "ui", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, ".bin", "protoc-gen-es")); err != nil {
		t.Fatalf("protoc-gen-es is not installed: run `cd ui && npm ci` (make test does)")
	}
	if err := os.MkdirAll(filepath.Join(scratch, "ui"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(scratch, "ui", "node_modules")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"buf", "generate"}, {"sqlc", "generate"}} {
		cmd := exec.Command(filepath.Join(tools, args[0]), args[1:]...)
		cmd.Dir = scratch
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	for _, dir := range []string{"proto/gen", "controlplane/internal/store/db", "ui/src/gen"} {
		want := readTree(t, filepath.Join(scratch, dir))
		got := readTree(t, filepath.Join(root, dir))
		for name, w := range want {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s/%s is generated but not committed: run `make generate`", dir, name)
			case !bytes.Equal(g, w):
				t.Errorf("%s/%s differs from what `make generate` produces: run it and commit the result", dir, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok && generatedExt[filepath.Ext(name)] && !isTest(name) {
				t.Errorf("%s/%s is committed but no longer generated: run `make generate`", dir, name)
			}
		}
	}
}

// generatedExt lists the extensions of files the generators write.
var generatedExt = map[string]bool{".go": true, ".ts": true}

func isTest(name string) bool {
	return len(name) > len("_test.go") && name[len(name)-len("_test.go"):] == "_test.go"
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return files
}
