package identity

import (
	"errors"
	"strings"
	"testing"
)

// testParams keep the tests fast; production uses [DefaultPasswordParams].
var testParams = PasswordParams{MemoryKiB: 1024, Iterations: 1, Threads: 1}

func TestHashPasswordFormat(t *testing.T) {
	t.Parallel()
	h1, err := HashPassword("correct horse battery", testParams)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword("correct horse battery", testParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash %q does not carry its parameters in PHC form", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if strings.Contains(h1, "correct horse") {
		t.Error("the hash contains the password")
	}
}

func TestVerifyPassword(t *testing.T) {
	t.Parallel()
	stored, err := HashPassword("correct horse battery", testParams)
	if err != nil {
		t.Fatal(err)
	}
	stronger := PasswordParams{MemoryKiB: 2048, Iterations: 2, Threads: 1}
	tests := []struct {
		name       string
		password   string
		params     PasswordParams
		wantOK     bool
		wantRehash bool
	}{
		{name: "right", password: "correct horse battery", params: testParams, wantOK: true},
		{name: "wrong", password: "correct horse battery!", params: testParams},
		{name: "empty", password: "", params: testParams},
		{name: "case differs", password: "Correct horse battery", params: testParams},
		{name: "right, params changed", password: "correct horse battery", params: stronger, wantOK: true, wantRehash: true},
		{name: "wrong, params changed", password: "nope", params: stronger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := VerifyPassword(tt.password, stored, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || rehash != tt.wantRehash {
				t.Errorf("VerifyPassword = %v, %v; want %v, %v", ok, rehash, tt.wantOK, tt.wantRehash)
			}
		})
	}
}

func TestParsePHC(t *testing.T) {
	t.Parallel()
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	tests := []struct {
		name    string
		in      string
		want    PasswordParams
		wantErr bool
	}{
		{name: "valid", in: "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + key, want: PasswordParams{65536, 3, 4}},
		{name: "parameter order free", in: "$argon2id$v=19$p=1,t=2,m=1024$" + salt + "$" + key, want: PasswordParams{1024, 2, 1}},
		{name: "argon2i", in: "$argon2i$v=19$m=65536,t=3,p=4$" + salt + "$" + key, wantErr: true},
		{name: "old version", in: "$argon2id$v=16$m=65536,t=3,p=4$" + salt + "$" + key, wantErr: true},
		{name: "missing parameter", in: "$argon2id$v=19$m=65536,t=3$" + salt + "$" + key, wantErr: true},
		{name: "repeated parameter", in: "$argon2id$v=19$m=1,m=2,t=3,p=4$" + salt + "$" + key, wantErr: true},
		{name: "unknown parameter", in: "$argon2id$v=19$m=65536,t=3,p=4,x=1$" + salt + "$" + key, wantErr: true},
		{name: "zero time", in: "$argon2id$v=19$m=65536,t=0,p=4$" + salt + "$" + key, wantErr: true},
		{name: "huge memory", in: "$argon2id$v=19$m=4194304,t=3,p=4$" + salt + "$" + key, wantErr: true},
		{name: "too many threads", in: "$argon2id$v=19$m=65536,t=3,p=256$" + salt + "$" + key, wantErr: true},
		{name: "memory below 8 per thread", in: "$argon2id$v=19$m=16,t=3,p=4$" + salt + "$" + key, wantErr: true},
		{name: "padded base64", in: "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "==$" + key, wantErr: true},
		{name: "short salt", in: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + key, wantErr: true},
		{name: "no hash", in: "$argon2id$v=19$m=65536,t=3,p=4$" + salt, wantErr: true},
		{name: "plain text", in: "hunter2", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := parsePHC(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadHash) {
					t.Fatalf("parsePHC(%q) error = %v, want ErrBadHash", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePHC(%q): %v", tt.in, err)
			}
			if h.params != tt.want {
				t.Errorf("params = %+v, want %+v", h.params, tt.want)
			}
			if _, _, err := VerifyPassword("x", tt.in, testParams); err != nil {
				t.Errorf("VerifyPassword on a valid hash: %v", err)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: " Ada@Example.COM ", want: "ada@example.com"},
		{in: "a@b", want: "a@b"},
		{in: "ada", wantErr: true},
		{in: "@example.com", wantErr: true},
		{in: "ada@", wantErr: true},
		{in: "a da@example.com", wantErr: true},
		{in: "a@b@c", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
