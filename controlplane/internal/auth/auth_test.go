package auth

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestCookieSecure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		peer   string
		header map[string]string
		want   bool
	}{
		{name: "loopback v4", peer: "127.0.0.1:5000", want: false},
		{name: "loopback v6", peer: "[::1]:5000", want: false},
		{name: "remote", peer: "192.0.2.7:5000", want: true},
		{name: "loopback behind https proxy", peer: "127.0.0.1:5000", header: map[string]string{"X-Forwarded-Proto": "https"}, want: true},
		{name: "loopback, https page", peer: "127.0.0.1:5000", header: map[string]string{"Origin": "https://ferry.example.com"}, want: true},
		{name: "loopback, http page", peer: "127.0.0.1:5000", header: map[string]string{"Origin": "http://localhost:8080"}, want: false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		if got := CookieSecure(tt.peer, h); got != tt.want {
			t.Errorf("%s: CookieSecure = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRoleCanGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have, want Role
		ok         bool
	}{
		{RoleOwner, RoleOwner, true},
		{RoleAdmin, RoleOwner, false},
		{RoleAdmin, RoleAdmin, true},
		{RoleAdmin, RoleViewer, true},
		{RoleDeveloper, RoleOperator, true},
		{RoleOperator, RoleDeveloper, false},
		{RoleViewer, RoleOperator, false},
		{"", RoleViewer, false},
		{RoleOwner, "root", false},
	}
	for _, tt := range tests {
		if got := tt.have.CanGrant(tt.want); got != tt.ok {
			t.Errorf("%q.CanGrant(%q) = %v, want %v", tt.have, tt.want, got, tt.ok)
		}
	}
}

func TestPepper(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "auth-pepper")
	p1, err := LoadOrCreatePepperFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pepper file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	p2, err := LoadOrCreatePepperFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := NewSecret(APIKeyKind)
	if err != nil {
		t.Fatal(err)
	}
	stored := p1.Hash(sec.Full)
	if !p2.Matches(sec.Full, stored, HashHMAC) {
		t.Error("a reloaded pepper does not verify its own hash")
	}
	other, err := NewPepper(make([]byte, PepperSize), "zero")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		p       *Pepper
		stored  []byte
		version int16
		want    bool
	}{
		{"hmac", p1, stored, HashHMAC, true},
		{"other pepper", other, stored, HashHMAC, false},
		{"sha256 legacy", p1, sec.Hash, HashSHA256, true},
		{"hmac hash read as sha256", p1, stored, HashSHA256, false},
		{"unknown version", p1, stored, 9, false},
	}
	for _, tt := range tests {
		if got := tt.p.Matches(sec.Full, tt.stored, tt.version); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPepperFile(path); err == nil {
		t.Error("ReadPepperFile accepted a 5-byte pepper")
	}
}
