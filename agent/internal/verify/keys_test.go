package verify

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

func TestParseTrustedKeys(t *testing.T) {
	t.Parallel()
	a := newTestKey(t, "fk_aaaaaaaaaa")
	b := newTestKey(t, "fk_bbbbbbbbbb")
	r := newTestKey(t, "fk_rrrrrrrrrr")
	b64 := base64.StdEncoding.EncodeToString
	protoKey := func(k testKey, state ferryv1.SigningKeyState) *ferryv1.SigningKey {
		pk := &ferryv1.SigningKey{Id: k.id, PublicKey: k.pub, State: state, CreateTime: timestamppb.New(testNow)}
		if state == ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED {
			pk.RetireTime = timestamppb.New(testNow)
		}
		return pk
	}
	jsonLine := func(k *ferryv1.SigningKey) string {
		b, err := protojson.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	listJSON, err := protojson.Marshal(&ferryv1.ListSigningKeysResponse{Keys: []*ferryv1.SigningKey{
		protoKey(a, ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE),
		protoKey(r, ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED),
	}})
	if err != nil {
		t.Fatal(err)
	}
	both := map[string]ed25519.PublicKey{a.id: a.pub, b.id: b.pub}
	onlyA := map[string]ed25519.PublicKey{a.id: a.pub}

	tests := []struct {
		name    string
		input   string
		want    map[string]ed25519.PublicKey
		wantErr string
	}{
		{
			name: "text with comments",
			input: "# Ferry work-order signing keys\n\n" + a.id + " " + b64(a.pub) + "\n" +
				"  " + b.id + "\t" + b64(b.pub) + "  # rotated in March\n",
			want: both,
		},
		{
			name: "JSON lines from ferry keys ls --output json",
			input: jsonLine(protoKey(a, ferryv1.SigningKeyState_SIGNING_KEY_STATE_PREVIOUS)) + "\n" +
				jsonLine(protoKey(b, ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE)) + "\n" +
				jsonLine(protoKey(r, ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED)) + "\n",
			want: both,
		},
		{
			name:  "JSON array",
			input: "[" + jsonLine(protoKey(a, ferryv1.SigningKeyState_SIGNING_KEY_STATE_ACTIVE)) + "," + jsonLine(protoKey(b, ferryv1.SigningKeyState_SIGNING_KEY_STATE_PENDING)) + "]",
			want:  both,
		},
		{
			name:  "ListSigningKeysResponse",
			input: string(listJSON),
			want:  onlyA,
		},
		{
			name:  "snake_case JSON",
			input: `{"id":"` + a.id + `","public_key":"` + b64(a.pub) + `"}`,
			want:  onlyA,
		},
		{name: "empty", input: "", wantErr: "no trusted key"},
		{name: "only comments", input: "# nothing here\n", wantErr: "no trusted key"},
		{name: "only retired keys", input: jsonLine(protoKey(r, ferryv1.SigningKeyState_SIGNING_KEY_STATE_RETIRED)), wantErr: "no trusted key"},
		{name: "three fields", input: a.id + " " + b64(a.pub) + " extra\n", wantErr: "line 1"},
		{name: "one field", input: "\n" + a.id + "\n", wantErr: "line 2"},
		{name: "not base64", input: a.id + " !!!!\n", wantErr: "not base64"},
		{name: "short key", input: a.id + " " + b64(a.pub[:16]) + "\n", wantErr: "has 16 bytes"},
		{name: "bad id", input: "fk/../x " + b64(a.pub) + "\n", wantErr: "key id"},
		{
			name:    "conflicting duplicate",
			input:   a.id + " " + b64(a.pub) + "\n" + a.id + " " + b64(b.pub) + "\n",
			wantErr: "listed twice",
		},
		{name: "broken JSON", input: `{"id": `, wantErr: "JSON value 1"},
		{name: "JSON of another shape", input: `{"id": 5}`, wantErr: "JSON value 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTrustedKeys(strings.NewReader(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadTrustedKeys(t *testing.T) {
	t.Parallel()
	k := newTestKey(t, "fk_aaaaaaaaaa")
	path := filepath.Join(t.TempDir(), "trusted-keys")
	if err := os.WriteFile(path, []byte(k.id+" "+base64.StdEncoding.EncodeToString(k.pub)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTrustedKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got[k.id].Equal(k.pub) {
		t.Errorf("loaded %v", got)
	}
	_, err = LoadTrustedKeys(filepath.Join(t.TempDir(), "absent"))
	if err == nil {
		t.Error("loading a missing file succeeded")
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTrustedKeys(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

func FuzzParseTrustedKeys(f *testing.F) {
	pub := make([]byte, ed25519.PublicKeySize)
	f.Add("fk_aaaaaaaaaa " + base64.StdEncoding.EncodeToString(pub) + "\n")
	f.Add("# comment\n\nfk_b x\n")
	f.Add(`{"id":"fk_aaaaaaaaaa","publicKey":"` + base64.StdEncoding.EncodeToString(pub) + `","state":"SIGNING_KEY_STATE_ACTIVE"}`)
	f.Add(`{"keys":[{"id":"a","publicKey":""}]}`)
	f.Add(`[{"id":"a"},{}]`)
	f.Fuzz(func(t *testing.T, input string) {
		keys, err := ParseTrustedKeys(strings.NewReader(input))
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatal("no error and no key")
		}
		for id, k := range keys {
			if !keyIDPattern.MatchString(id) || len(k) != ed25519.PublicKeySize {
				t.Fatalf("accepted key %q of %d bytes", id, len(k))
			}
		}
	})
}
