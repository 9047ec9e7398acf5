// Package auth authenticates callers of the control plane: API keys for
// people and programs, agent tokens for agents. It puts the caller's
// [Principal] into the request context, where authorization and audit find it.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// Secret kinds, as they appear at the start of a secret. The fixed prefixes
// let secret scanners recognise a leaked Ferry credential.
const (
	APIKeyKind     = "ferry_ak"
	AgentTokenKind = "ferry_at"
	// SessionKind is a login session's token, sent by browsers in the
	// [SessionCookie] cookie and by the CLI as a bearer credential.
	SessionKind = "ferry_ss"
)

const (
	prefixLen = 12
	secretLen = 40
	alphabet  = "abcdefghijkmnopqrstuvwxyz23456789"
)

// ErrMalformed reports a credential that is not shaped like a Ferry secret.
var ErrMalformed = errors.New("malformed credential")

// Secret is a newly issued credential. Full is shown to the user once; only
// Prefix and Hash are stored.
type Secret struct {
	Full   string
	Prefix string
	Hash   []byte
}

// NewSecret issues a random credential of the given kind.
func NewSecret(kind string) (Secret, error) {
	prefix, err := randomString(prefixLen)
	if err != nil {
		return Secret{}, err
	}
	body, err := randomString(secretLen)
	if err != nil {
		return Secret{}, err
	}
	full := kind + "_" + prefix + "_" + body
	return Secret{Full: full, Prefix: prefix, Hash: Hash(full)}, nil
}

// Parse splits a presented credential into its kind and public prefix.
func Parse(full string) (kind, prefix string, err error) {
	// kind is "ferry_xx", so the credential has four '_'-separated parts.
	parts := strings.Split(full, "_")
	if len(parts) != 4 || parts[0] != "ferry" {
		return "", "", ErrMalformed
	}
	kind = parts[0] + "_" + parts[1]
	if kind != APIKeyKind && kind != AgentTokenKind && kind != SessionKind {
		return "", "", ErrMalformed
	}
	if len(parts[2]) != prefixLen || len(parts[3]) != secretLen {
		return "", "", ErrMalformed
	}
	return kind, parts[2], nil
}

// Hash returns the version 1 ([HashSHA256]) stored form of a credential.
// Credentials carry 200 bits of randomness, so a plain SHA-256 cannot be
// brute-forced; new credentials are stored with [Pepper.Hash] instead, so
// that a copy of the database alone cannot even confirm a leaked key.
func Hash(full string) []byte {
	sum := sha256.Sum256([]byte(full))
	return sum[:]
}

// Matches reports whether full hashes to stored under [Hash], in constant
// time.
func Matches(full string, stored []byte) bool {
	return subtle.ConstantTimeCompare(Hash(full), stored) == 1
}

func randomString(n int) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	for i, b := range buf {
		// 256 is not a multiple of len(alphabet); the bias is below 1 bit of
		// the 200 and does not matter for these secrets.
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf), nil
}
