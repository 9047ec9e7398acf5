package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KEKSize is the length in bytes of a key-encryption key (AES-256).
const KEKSize = 32

// maxKEKFileBytes caps how much of a KEK file is read: 32 raw bytes or their
// base64 text with a line ending fit easily.
const maxKEKFileBytes = 256

// ErrWrongKEK reports that a sealed private key does not open with the
// configured key-encryption key.
var ErrWrongKEK = errors.New("signing: wrong key-encryption key")

// KEK is the key-encryption key that seals signing keys at rest with
// AES-256-GCM. It is safe for concurrent use.
type KEK struct {
	aead cipher.AEAD
	// source names where the key came from, for error messages.
	source string
}

// NewKEK returns a KEK of raw, which must be [KEKSize] bytes. source names
// where the key came from (a file path) in error messages.
func NewKEK(raw []byte, source string) (*KEK, error) {
	if len(raw) != KEKSize {
		return nil, fmt.Errorf("signing: key-encryption key from %s has %d bytes, want %d", source, len(raw), KEKSize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("signing: key-encryption key from %s: %w", source, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("signing: key-encryption key from %s: %w", source, err)
	}
	return &KEK{aead: aead, source: source}, nil
}

// ReadKEKFile reads a KEK from path: either exactly [KEKSize] raw bytes or
// their standard base64 encoding (surrounding white space is ignored), so a
// key can come from a mounted secret in either form.
func ReadKEKFile(path string) (*KEK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("signing: read key-encryption key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKEKFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("signing: read key-encryption key %s: %w", path, err)
	}
	if len(data) == KEKSize {
		return NewKEK(data, path)
	}
	text := strings.TrimSpace(string(data))
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(raw) != KEKSize || len(data) > maxKEKFileBytes {
		return nil, fmt.Errorf("signing: key-encryption key file %s must hold %d raw bytes or their base64 text",
			path, KEKSize)
	}
	return NewKEK(raw, path)
}

// LoadOrCreateKEKFile reads the KEK at path, first creating the file with
// mode 0600 and [KEKSize] random bytes when it does not exist. Its directory
// is created with mode 0700 if needed. Two processes creating it at once end
// up with the same key: the file is created exclusively and the loser reads
// the winner's.
func LoadOrCreateKEKFile(path string) (*KEK, error) {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ReadKEKFile(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("signing: create key-encryption key directory: %w", err)
	}
	raw := make([]byte, KEKSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("signing: generate key-encryption key: %w", err)
	}
	// Write under a temporary name and link it into place, so no reader
	// ever sees a partly written key.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".signing-kek-*")
	if err != nil {
		return nil, fmt.Errorf("signing: create key-encryption key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("signing: create key-encryption key: %w", err)
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("signing: write key-encryption key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("signing: write key-encryption key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("signing: write key-encryption key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ReadKEKFile(path)
		}
		return nil, fmt.Errorf("signing: create key-encryption key %s: %w", path, err)
	}
	return NewKEK(raw, path)
}

// seal encrypts plain for the key named id; the id is authenticated, so a
// sealed key copied onto another row does not open.
func (k *KEK) seal(id string, plain []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("signing: generate nonce: %w", err)
	}
	return k.aead.Seal(nonce, nonce, plain, sealAAD(id)), nil
}

// open decrypts what seal produced for the key named id. It returns an
// error wrapping [ErrWrongKEK] when the KEK is not the one sealed with.
func (k *KEK) open(id string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, fmt.Errorf("signing: sealed private key of %s is truncated (%d bytes)", id, len(sealed))
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], sealAAD(id))
	if err != nil {
		return nil, fmt.Errorf("%w: the private key of signing key %s does not open with the key-encryption key "+
			"from %s; every control-plane replica must use the key-encryption key the signing keys were "+
			"sealed with (--signing-kek-file)", ErrWrongKEK, id, k.source)
	}
	return plain, nil
}

func sealAAD(id string) []byte { return []byte("ferry signing key " + id) }
