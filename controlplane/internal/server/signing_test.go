package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSigningKEK(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	existing := filepath.Join(dir, "kek")
	if err := os.WriteFile(existing, []byte(strings.Repeat("k", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		// created is a file that must exist afterwards.
		created string
	}{
		{name: "explicit file", cfg: Config{SigningKEKFile: existing, DataDir: filepath.Join(dir, "unused")}},
		{
			name:    "explicit file missing",
			cfg:     Config{SigningKEKFile: filepath.Join(dir, "absent"), DataDir: dir},
			wantErr: "does not exist: create it once with 32 random bytes",
		},
		{
			name:    "default in the data directory",
			cfg:     Config{DataDir: filepath.Join(dir, "data")},
			created: filepath.Join(dir, "data", signingKEKFileName),
		},
		{
			name:    "neither file nor data directory",
			cfg:     Config{DatabaseURL: "postgres://db.example/ferry"},
			wantErr: "pass --signing-kek-file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kek, err := loadSigningKEK(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || kek == nil {
				t.Fatalf("got %v, %v", kek, err)
			}
			if tt.created != "" {
				if _, err := os.Stat(tt.created); err != nil {
					t.Errorf("key file not created: %v", err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "unused")); err == nil {
				t.Error("the data directory was used although a file was given")
			}
		})
	}
}
