package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PepperSize is the length in bytes of the server secret credentials are
// hashed with.
const PepperSize = 32

// maxPepperFileBytes bounds how much of a pepper file is read: base64 of
// [PepperSize] bytes plus white space.
const maxPepperFileBytes = 128

// Hash versions of stored credentials.
const (
	// HashSHA256 is the plain SHA-256 of the credential, as stored before
	// peppered hashing; still accepted, and upgraded on first use.
	HashSHA256 int16 = 1
	// HashHMAC is HMAC-SHA256 of the credential under the [Pepper].
	HashHMAC int16 = 2
)

// Pepper is the server secret that keys the stored hashes of API keys,
// agent tokens and session tokens. It lives outside the database (a file in
// the data directory or a mounted secret), so a copy of the database alone
// cannot be used to test guesses. Every replica must use the same one.
type Pepper struct {
	key    []byte
	source string
}

// NewPepper returns a pepper over raw, which must be [PepperSize] bytes;
// source names where it came from in error messages.
func NewPepper(raw []byte, source string) (*Pepper, error) {
	if len(raw) != PepperSize {
		return nil, fmt.Errorf("auth: pepper from %s has %d bytes, want %d", source, len(raw), PepperSize)
	}
	return &Pepper{key: append([]byte(nil), raw...), source: source}, nil
}

// Hash returns the keyed hash (version [HashHMAC]) of a credential.
func (p *Pepper) Hash(credential string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(credential))
	return m.Sum(nil)
}

// Matches reports, in constant time, whether credential hashes to stored
// under the given hash version. An unknown version never matches.
func (p *Pepper) Matches(credential string, stored []byte, version int16) bool {
	var h []byte
	switch version {
	case HashHMAC:
		h = p.Hash(credential)
	case HashSHA256:
		h = Hash(credential)
	default:
		h = p.Hash(credential)
		stored = nil
	}
	return subtle.ConstantTimeCompare(h, stored) == 1
}

// ReadPepperFile reads a pepper from path: exactly [PepperSize] raw bytes or
// their standard base64 encoding (surrounding white space ignored).
func ReadPepperFile(path string) (*Pepper, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read pepper: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPepperFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: read pepper %s: %w", path, err)
	}
	if len(data) == PepperSize {
		return NewPepper(data, path)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != PepperSize || len(data) > maxPepperFileBytes {
		return nil, fmt.Errorf("auth: pepper file %s must hold %d raw bytes or their base64 text", path, PepperSize)
	}
	return NewPepper(raw, path)
}

// LoadOrCreatePepperFile reads the pepper at path, first creating the file
// with mode 0600 and random bytes when it does not exist (its directory with
// mode 0700). Two processes creating it at once end up with the same pepper:
// the file is linked into place exclusively and the loser reads the winner's.
func LoadOrCreatePepperFile(path string) (*Pepper, error) {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ReadPepperFile(path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create pepper directory: %w", err)
	}
	raw := make([]byte, PepperSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("auth: generate pepper: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".auth-pepper-*")
	if err != nil {
		return nil, fmt.Errorf("auth: create pepper: %w", err)
	}
	defer os.Remove(tmp.Name())
	werr := errors.Join(tmp.Chmod(0o600), writeAll(tmp, raw), tmp.Sync())
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return nil, fmt.Errorf("auth: write pepper: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ReadPepperFile(path)
		}
		return nil, fmt.Errorf("auth: create pepper %s: %w", path, err)
	}
	return NewPepper(raw, path)
}

func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}
