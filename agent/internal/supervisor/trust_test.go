package supervisor_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryhq/ferry/agent/internal/agenttest"
	"github.com/ferryhq/ferry/agent/internal/mask"
	"github.com/ferryhq/ferry/agent/internal/supervisor"
	"github.com/ferryhq/ferry/agent/internal/verify"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const rejected = ferryv1.ReportKind_REPORT_KIND_REJECTED

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func newVerifier(t *testing.T, keyID string, pub ed25519.PublicKey) *verify.Verifier {
	t.Helper()
	v, err := verify.New(map[string]ed25519.PublicKey{keyID: pub}, verify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// touching returns a job that creates a file when it runs, so a test can
// prove it never ran.
func touching(t *testing.T) (*ferryv1.JobSpec, string) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "ran")
	return shell("touch " + marker), marker
}

func assertNeverRan(t *testing.T, marker string, r *agenttest.Run) {
	t.Helper()
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the job ran (marker %s exists: %v)", marker, err)
	}
	for _, rep := range r.Reports {
		if rep.GetKind() == started {
			t.Errorf("run was reported STARTED")
		}
	}
}

func TestSignedOrderRuns(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	b := setup(t, setupOptions{
		server: agenttest.Options{SigningKey: priv, KeyID: "fk_test"},
		config: supervisor.Config{Verifier: newVerifier(t, "fk_test", pub)},
	})
	o := b.srv.Offer(t, shell("echo signed"))
	r := b.waitFinished(t, o.GetRunId())
	if got := r.Kinds(); len(got) != 2 || got[1] != completed {
		t.Fatalf("reports = %v, want STARTED, COMPLETED", got)
	}
}

func TestRefusedOrdersNeverLaunch(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	tests := []struct {
		name   string
		order  func(b *bundle, job *ferryv1.JobSpec) *ferryv1.WorkOrder
		reason string
	}{
		{"unsigned", func(b *bundle, job *ferryv1.JobSpec) *ferryv1.WorkOrder {
			return b.srv.NewOrder(t, job, nil, "")
		}, "not signed"},
		{"signed by an untrusted key", func(b *bundle, job *ferryv1.JobSpec) *ferryv1.WorkOrder {
			return b.srv.NewOrder(t, job, otherPriv, "fk_other")
		}, "fk_other"},
		{"forged with the wrong key under the trusted id", func(b *bundle, job *ferryv1.JobSpec) *ferryv1.WorkOrder {
			return b.srv.NewOrder(t, job, otherPriv, "fk_test")
		}, "signature"},
		{"altered after signing", func(b *bundle, job *ferryv1.JobSpec) *ferryv1.WorkOrder {
			o := b.srv.NewOrder(t, job, priv, "fk_test")
			o.SignedOrder[len(o.SignedOrder)-1] ^= 0xff
			return o
		}, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOptions{config: supervisor.Config{Verifier: newVerifier(t, "fk_test", pub)}})
			job, marker := touching(t)
			o := tt.order(b, job)
			b.srv.OfferOrder(t, o)
			r := b.waitFinished(t, o.GetRunId())
			last := r.Reports[len(r.Reports)-1]
			if last.GetKind() != rejected || !strings.Contains(strings.ToLower(last.GetMessage()), tt.reason) {
				t.Errorf("final report = %v %q, want REJECTED mentioning %q", last.GetKind(), last.GetMessage(), tt.reason)
			}
			assertNeverRan(t, marker, r)
		})
	}
}

func TestReplayedOrderIsRefused(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	b := setup(t, setupOptions{config: supervisor.Config{Verifier: newVerifier(t, "fk_test", pub)}})
	o := b.srv.NewOrder(t, shell("echo once"), priv, "fk_test")
	b.srv.OfferOrder(t, o)
	b.waitFinished(t, o.GetRunId())
	b.waitIdle(t)

	// The same signed order again, as an attacker replaying it would send.
	replay := b.srv.NewOrder(t, shell("true"), nil, "")
	replay.RunId, replay.LeaseToken, replay.Job = o.GetRunId(), o.GetLeaseToken(), o.GetJob()
	replay.SignedOrder, replay.Signature, replay.KeyId = o.GetSignedOrder(), o.GetSignature(), o.GetKeyId()
	b.srv.OfferOrder(t, replay)
	r := b.waitFinished(t, o.GetRunId())
	if got := r.Kinds(); len(got) != 1 || got[0] != rejected {
		t.Errorf("replayed order reported %v, want only REJECTED", got)
	} else if !strings.Contains(r.Reports[0].GetMessage(), "replay") {
		t.Errorf("refusal %q does not say the order was replayed", r.Reports[0].GetMessage())
	}
}

type denyAll struct{ reason string }

func (d denyAll) Evaluate(context.Context, string, int32, *ferryv1.JobSpec) ([]string, error) {
	return []string{d.reason}, nil
}

func TestPolicyDenialRejectsWithoutLaunch(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{config: supervisor.Config{Policy: denyAll{"privileged: containers may not run privileged"}}})
	job, marker := touching(t)
	o := b.srv.Offer(t, job)
	r := b.waitFinished(t, o.GetRunId())
	last := r.Reports[len(r.Reports)-1]
	if last.GetKind() != rejected || !strings.Contains(last.GetMessage(), "privileged: containers may not run privileged") {
		t.Errorf("final report = %v %q, want REJECTED with the rule's message", last.GetKind(), last.GetMessage())
	}
	assertNeverRan(t, marker, r)
}

type fakeSecrets map[string]string

func (f fakeSecrets) Resolve(_ context.Context, refs map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for name, ref := range refs {
		v, ok := f[ref]
		if !ok {
			return nil, errors.New("secret " + name + " (" + ref + "): not found")
		}
		out[name] = v
	}
	return out, nil
}

func TestSecretsAreResolvedAndMasked(t *testing.T) {
	t.Parallel()
	const value = "s3cr3t-Value-42"
	masks := mask.NewRegistry(mask.DefaultMinLen)
	b := setup(t, setupOptions{config: supervisor.Config{
		Secrets: fakeSecrets{"env://DB_PASSWORD": value},
		Masks:   masks,
	}})
	job := shell(`printf 'plain %s\n' "$DB_PASSWORD"; printf '{"p":"%s"}\n' "$DB_PASSWORD"; ` +
		`printf '%s' "$DB_PASSWORD" | base64; printf 'part1 %s' "${DB_PASSWORD%%-*}"; sleep 0.05; printf -- '-%s end\n' "${DB_PASSWORD#*-}"`)
	job.Secrets = map[string]string{"DB_PASSWORD": "env://DB_PASSWORD"}
	o := b.srv.Offer(t, job)
	r := b.waitFinished(t, o.GetRunId())
	if got := r.Kinds(); got[len(got)-1] != completed {
		t.Fatalf("reports = %v, want COMPLETED", got)
	}
	texts, _ := r.Texts()
	all := strings.Join(texts, "\n")
	if strings.Contains(all, value) || strings.Contains(all, "czNjcjN0LVZhbHVlLTQy") {
		t.Errorf("secret value reached the control plane:\n%s", all)
	}
	if strings.Count(all, mask.Replacement) < 4 {
		t.Errorf("want the value masked in each of the 4 forms, got:\n%s", all)
	}
	b.waitIdle(t)
	if got := masks.MaskString(value); got != value {
		t.Errorf("the run's secrets stayed registered after it ended: %q", got)
	}
}

func TestUnresolvableSecretFailsWithoutLaunch(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{config: supervisor.Config{Secrets: fakeSecrets{}}})
	job, marker := touching(t)
	job.Secrets = map[string]string{"API_KEY": "aws-sm://prod/api"}
	o := b.srv.Offer(t, job)
	r := b.waitFinished(t, o.GetRunId())
	last := r.Reports[len(r.Reports)-1]
	if last.GetKind() != failed || !strings.Contains(last.GetMessage(), "API_KEY") {
		t.Errorf("final report = %v %q, want FAILED naming API_KEY", last.GetKind(), last.GetMessage())
	}
	assertNeverRan(t, marker, r)
}
