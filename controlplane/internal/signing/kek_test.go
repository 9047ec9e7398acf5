package signing

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestNewKEKRejectsWrongSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKEK(make([]byte, n), "test"); err == nil {
			t.Errorf("NewKEK(%d bytes) succeeded, want an error", n)
		}
	}
}

func TestReadKEKFile(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{7}, KEKSize)
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{name: "raw bytes", content: raw},
		{name: "base64", content: []byte(base64.StdEncoding.EncodeToString(raw))},
		{name: "base64 with newline", content: []byte("  " + base64.StdEncoding.EncodeToString(raw) + "\n")},
		{name: "too short", content: raw[:20], wantErr: "must hold 32 raw bytes or their base64 text"},
		{name: "base64 of 16 bytes", content: []byte(base64.StdEncoding.EncodeToString(raw[:16])), wantErr: "must hold"},
		{name: "text", content: []byte("not a key at all, just some words\n"), wantErr: "must hold"},
		{name: "empty", content: nil, wantErr: "must hold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			kek, err := ReadKEKFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadKEKFile: got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadKEKFile: %v", err)
			}
			want, err := NewKEK(raw, "want")
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := want.seal("fk_aaaaaaaaaa", []byte("secret"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kek.open("fk_aaaaaaaaaa", sealed); err != nil {
				t.Fatalf("the file's key does not open what its bytes sealed: %v", err)
			}
		})
	}
}

func TestReadKEKFileMissing(t *testing.T) {
	t.Parallel()
	_, err := ReadKEKFile(filepath.Join(t.TempDir(), "absent"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

func TestLoadOrCreateKEKFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "signing-kek")
	first, err := LoadOrCreateKEKFile(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 || info.Size() != KEKSize {
		t.Errorf("file mode %v size %d, want 0600 and %d bytes", info.Mode().Perm(), info.Size(), KEKSize)
	}
	second, err := LoadOrCreateKEKFile(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	sealed, err := first.seal("fk_bbbbbbbbbb", []byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.open("fk_bbbbbbbbbb", sealed); err != nil {
		t.Fatalf("reloaded key differs from the created one: %v", err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}
}

// TestLoadOrCreateKEKFileConcurrent checks that processes creating the file
// at once all end with the same key.
func TestLoadOrCreateKEKFileConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "signing-kek")
	const n = 8
	keks := make([]*KEK, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keks[i], errs[i] = LoadOrCreateKEKFile(path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	sealed, err := keks[0].seal("fk_cccccccccc", []byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keks[1:] {
		if _, err := k.open("fk_cccccccccc", sealed); err != nil {
			t.Errorf("caller %d got a different key: %v", i+1, err)
		}
	}
}

func TestSealBindsKeyID(t *testing.T) {
	t.Parallel()
	kek, err := NewKEK(bytes.Repeat([]byte{1}, KEKSize), "test")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKEK(bytes.Repeat([]byte{2}, KEKSize), "/etc/other-kek")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kek.seal("fk_dddddddddd", []byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kek.open("fk_dddddddddd", sealed); err != nil || string(got) != "seed" {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := kek.open("fk_eeeeeeeeee", sealed); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("open under another id: got %v, want ErrWrongKEK", err)
	}
	_, err = other.open("fk_dddddddddd", sealed)
	if !errors.Is(err, ErrWrongKEK) || !strings.Contains(err.Error(), "/etc/other-kek") {
		t.Errorf("open with another KEK: got %v, want ErrWrongKEK naming the KEK's file", err)
	}
	if _, err := kek.open("fk_dddddddddd", sealed[:10]); err == nil {
		t.Error("open of a truncated key succeeded")
	}
}
