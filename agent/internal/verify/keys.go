package verify

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// maxTrustedKeysBytes caps the size of a trusted-keys file; a few keys take
// well under a kilobyte.
const maxTrustedKeysBytes = 1 << 20

// keyIDPattern bounds a key id to a short token that is safe to print.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// LoadTrustedKeys reads the trusted-keys file at path; see
// [ParseTrustedKeys] for its formats.
func LoadTrustedKeys(path string) (map[string]ed25519.PublicKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read trusted keys: %w", err)
	}
	defer f.Close()
	keys, err := ParseTrustedKeys(f)
	if err != nil {
		return nil, fmt.Errorf("trusted keys file %s: %w", path, err)
	}
	return keys, nil
}

// ParseTrustedKeys reads trusted public keys in either of two formats, which
// are what `ferry keys ls --output agent` and `ferry keys ls --output json`
// print:
//
//   - text: one key per line, "KEY_ID BASE64_PUBLIC_KEY"; blank lines and
//     everything after a '#' are ignored;
//   - JSON: ferry.v1.SigningKey objects in protojson, one after another (as
//     JSON Lines) or in an array, or a ferry.v1.ListSigningKeysResponse;
//     retired keys are skipped.
//
// It fails on a malformed entry, a public key that is not 32 bytes, an id
// given twice with different keys, and when no key is left.
func ParseTrustedKeys(r io.Reader) (map[string]ed25519.PublicKey, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxTrustedKeysBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read trusted keys: %w", err)
	}
	if len(data) > maxTrustedKeysBytes {
		return nil, fmt.Errorf("trusted keys exceed %d bytes", maxTrustedKeysBytes)
	}
	keys := make(map[string]ed25519.PublicKey)
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		err = parseJSON(trimmed, keys)
	} else {
		err = parseText(data, keys)
	}
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no trusted key: save the output of 'ferry keys ls --output agent' as this file")
	}
	return keys, nil
}

func parseText(data []byte, keys map[string]ed25519.PublicKey) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxTrustedKeysBytes)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return fmt.Errorf("line %d: want \"KEY_ID BASE64_PUBLIC_KEY\", got %d fields", n, len(fields))
		}
		raw, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil {
			return fmt.Errorf("line %d: public key of %s is not base64: %w", n, fields[0], err)
		}
		if err := add(keys, fields[0], raw); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read trusted keys: %w", err)
	}
	return nil
}

func parseJSON(data []byte, keys map[string]ed25519.PublicKey) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		var value json.RawMessage
		err := dec.Decode(&value)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("JSON value %d: %w", n, err)
		}
		var entries []*ferryv1.SigningKey
		switch value[0] {
		case '[':
			var items []json.RawMessage
			if err := json.Unmarshal(value, &items); err != nil {
				return fmt.Errorf("JSON value %d: %w", n, err)
			}
			for i, item := range items {
				k := new(ferryv1.SigningKey)
				if err := protojson.Unmarshal(item, k); err != nil {
					return fmt.Errorf("JSON value %d, item %d: %w", n, i+1, err)
				}
				entries = append(entries, k)
			}
		default:
			var probe map[string]json.RawMessage
			if err := json.Unmarshal(value, &probe); err != nil {
				return fmt.Errorf("JSON value %d: %w", n, err)
			}
			if _, ok := probe["keys"]; ok {
				list := new(ferryv1.ListSigningKeysResponse)
				if err := protojson.Unmarshal(value, list); err != nil {
					return fmt.Errorf("JSON value %d: %w", n, err)
				}
				entries = list.GetKeys()
			} else {
				k := new(ferryv1.SigningKey)
				if err := protojson.Unmarshal(value, k); err != nil {
					return fmt.Errorf("JSON value %d: %w", n, err)
				}
				entries = []*ferryv1.SigningKey{k}
			}
		}
		for _, k := range entries {
			if k.GetState() == ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED || k.GetRetireTime() != nil {
				continue
			}
			if err := add(keys, k.GetId(), k.GetPublicKey()); err != nil {
				return fmt.Errorf("JSON value %d: %w", n, err)
			}
		}
	}
}

// add records one key, refusing a bad id, a bad key and a conflicting
// duplicate.
func add(keys map[string]ed25519.PublicKey, id string, raw []byte) error {
	if !keyIDPattern.MatchString(id) {
		return fmt.Errorf("key id %q: want 1 to 64 letters, digits, '_' or '-'", id)
	}
	if len(raw) != ed25519.PublicKeySize {
		return fmt.Errorf("public key of %s has %d bytes, want %d", id, len(raw), ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(bytes.Clone(raw))
	if prev, ok := keys[id]; ok && !prev.Equal(pub) {
		return fmt.Errorf("key %s is listed twice with different public keys", id)
	}
	keys[id] = pub
	return nil
}
