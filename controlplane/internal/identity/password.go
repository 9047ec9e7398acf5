package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters new password hashes are
// made with. Hashes record their own parameters, so changing these affects
// new hashes only; a password whose hash used other parameters is rehashed
// at its next successful login.
type PasswordParams struct {
	// MemoryKiB is the memory cost in KiB. Default 65536 (64 MiB).
	MemoryKiB uint32
	// Iterations is the time cost. Default 3.
	Iterations uint32
	// Threads is the degree of parallelism. Default 4.
	Threads uint8
}

// Defaults follow the second recommendation of RFC 9106 (64 MiB, t=3, p=4).
const (
	defaultMemoryKiB  = 64 * 1024
	defaultIterations = 3
	defaultThreads    = 4
	saltLen           = 16
	hashLen           = 32
	// maxMemoryKiB and maxIterations bound the parameters accepted from a
	// stored hash, so a tampered row cannot make a login exhaust the server.
	maxMemoryKiB  = 1 << 20
	maxIterations = 64
	// MaxPasswordBytes bounds a password; longer ones are refused before
	// any hashing.
	MaxPasswordBytes = 1024
	// MinPasswordBytes is the shortest password accepted for a new user.
	MinPasswordBytes = 12
)

// DefaultPasswordParams returns the parameters used when none are configured.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{MemoryKiB: defaultMemoryKiB, Iterations: defaultIterations, Threads: defaultThreads}
}

func (p PasswordParams) filled() PasswordParams {
	d := DefaultPasswordParams()
	if p.MemoryKiB == 0 {
		p.MemoryKiB = d.MemoryKiB
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	return p
}

// ErrBadHash reports a stored password hash that is not an argon2id PHC
// string this package can verify.
var ErrBadHash = errors.New("identity: malformed argon2id hash")

// HashPassword returns the PHC string of password under fresh random salt:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<threads>$<salt>$<hash>, with
// salt and hash in unpadded standard base64.
func HashPassword(password string, params PasswordParams) (string, error) {
	params = params.filled()
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("identity: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, params.Iterations, params.MemoryKiB, params.Threads, hashLen)
	return encodePHC(params, salt, key), nil
}

func encodePHC(p PasswordParams, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// phc is a parsed argon2id hash.
type phc struct {
	params PasswordParams
	salt   []byte
	key    []byte
}

// parsePHC parses an argon2id PHC string, refusing other algorithms and
// versions and parameters beyond sane bounds.
func parsePHC(s string) (phc, error) {
	// "$argon2id$v=19$m=..,t=..,p=..$salt$hash" splits into 6 parts, the
	// first empty.
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, ErrBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, fmt.Errorf("%w: version %q", ErrBadHash, parts[2])
	}
	var h phc
	seen := map[string]bool{}
	for kv := range strings.SplitSeq(parts[3], ",") {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || seen[name] {
			return phc{}, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
		seen[name] = true
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil || n == 0 {
			return phc{}, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
		switch name {
		case "m":
			h.params.MemoryKiB = uint32(n)
		case "t":
			h.params.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return phc{}, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
			}
			h.params.Threads = uint8(n)
		default:
			return phc{}, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
	}
	if len(seen) != 3 {
		return phc{}, fmt.Errorf("%w: want m, t and p", ErrBadHash)
	}
	if h.params.MemoryKiB > maxMemoryKiB || h.params.Iterations > maxIterations ||
		h.params.MemoryKiB < 8*uint32(h.params.Threads) {
		return phc{}, fmt.Errorf("%w: parameters out of range", ErrBadHash)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return phc{}, fmt.Errorf("%w: salt", ErrBadHash)
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(h.key) < 16 {
		return phc{}, fmt.Errorf("%w: hash", ErrBadHash)
	}
	return h, nil
}

// VerifyPassword reports whether password matches the PHC string encoded,
// comparing in constant time. needsRehash is true when the hash was made
// with parameters other than params, so the caller should store a new one.
func VerifyPassword(password, encoded string, params PasswordParams) (ok, needsRehash bool, err error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.MemoryKiB, h.params.Threads,
		uint32(len(h.key)))
	ok = subtle.ConstantTimeCompare(key, h.key) == 1
	return ok, ok && (h.params != params.filled() || len(h.key) != hashLen), nil
}
