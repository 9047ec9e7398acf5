package policystore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ferryhq/ferry/controlplane/internal/store"
	"github.com/ferryhq/ferry/controlplane/internal/store/db"
	"github.com/ferryhq/ferry/internal/clock"
)

// Channel is the PostgreSQL notification channel on which every change to
// a workspace's active policies is announced, with the payload
// "<workspace id>/<kind>". Pass notifications to [Store.Invalidate].
const Channel = "ferry_policy_changed"

// Policy is a named workspace policy of one kind.
type Policy struct {
	ID            uuid.UUID
	WorkspaceID   uuid.UUID
	Kind          Kind
	Name          string
	LatestVersion int32
	// ActiveVersion is the version in effect, 0 when the policy is inactive.
	ActiveVersion int32
	CreateTime    time.Time
	UpdateTime    time.Time
}

// Version is one immutable version of a policy.
type Version struct {
	Version int32
	// SHA256 is the lower-case hex SHA-256 of the source.
	SHA256     string
	CreatedBy  string
	CreateTime time.Time
	// Source is the Rego text; empty where a method says so.
	Source string
}

// Store keeps workspace policies in PostgreSQL. It is safe for concurrent
// use.
type Store struct {
	st      *store.Store
	clock   clock.Clock
	builtin BuiltinFunc
	cache   *moduleCache
}

// New returns a Store over st that compiles uploads against the built-in
// policies builtin returns.
func New(st *store.Store, clk clock.Clock, builtin BuiltinFunc) *Store {
	return &Store{st: st, clock: clk, builtin: builtin, cache: newModuleCache(clk, defaultCacheTTL)}
}

// UploadResult is what [Store.Upload] stored.
type UploadResult struct {
	Policy  Policy
	Version Version
	// Created is false when the source equalled the latest version's and
	// nothing was stored.
	Created bool
}

// Upload checks source as a new version of the workspace policy (kind,
// name), compiles it with the built-in policy, and stores it as the next
// version, creating the policy if needed. It does not activate it.
// Uploading the latest version's source again stores nothing. Errors:
// [*CompileError] for bad Rego, [ErrLimit] past a limit.
func (s *Store) Upload(ctx context.Context, ws uuid.UUID, kind Kind, name, source, createdBy string) (UploadResult, error) {
	if _, err := s.compile(kind, []Module{{Name: name, Source: source}}); err != nil {
		return UploadResult{}, err
	}
	sum := sha256.Sum256([]byte(source))

	var res UploadResult
	err := s.st.Tx(ctx, func(q db.Querier) error {
		existing, err := q.PolicyGetByNameForUpdate(ctx, db.PolicyGetByNameForUpdateParams{WorkspaceID: ws, Kind: string(kind), Name: name})
		switch {
		case store.IsNotFound(err):
			n, err := q.PolicyCountByWorkspace(ctx, ws)
			if err != nil {
				return fmt.Errorf("count policies: %w", err)
			}
			if n >= maxPolicies {
				return fmt.Errorf("%w: a workspace may have at most %d policies", ErrLimit, maxPolicies)
			}
		case err != nil:
			return fmt.Errorf("get policy: %w", err)
		default:
			latest, err := q.PolicyVersionGet(ctx, db.PolicyVersionGetParams{WorkspaceID: ws, PolicyID: existing.ID, Version: existing.LatestVersion})
			if err != nil {
				return fmt.Errorf("get latest policy version: %w", err)
			}
			if bytes.Equal(latest.Sha256, sum[:]) {
				res = UploadResult{Policy: policyFromDB(existing), Version: versionFromDB(latest, false)}
				return nil
			}
			if existing.LatestVersion >= maxVersions {
				return fmt.Errorf("%w: a policy may have at most %d versions", ErrLimit, maxVersions)
			}
		}

		now := s.clock.Now()
		p, err := q.PolicyUpsert(ctx, db.PolicyUpsertParams{ID: uuid.New(), WorkspaceID: ws, Kind: string(kind), Name: name, Now: now})
		if err != nil {
			return fmt.Errorf("upsert policy: %w", err)
		}
		v, err := q.PolicyVersionInsert(ctx, db.PolicyVersionInsertParams{
			PolicyID: p.ID, Version: p.LatestVersion, WorkspaceID: ws,
			Source: source, Sha256: sum[:], CreatedBy: createdBy, Now: now,
		})
		if err != nil {
			return fmt.Errorf("insert policy version: %w", err)
		}
		res = UploadResult{Policy: policyFromDB(p), Version: versionFromDB(v, false), Created: true}
		return nil
	})
	if err != nil {
		return UploadResult{}, err
	}
	return res, nil
}

// List returns the workspace's policies of kind, or of every kind when kind
// is empty, by kind and name.
func (s *Store) List(ctx context.Context, ws uuid.UUID, kind Kind) ([]Policy, error) {
	var k *string
	if kind != "" {
		ks := string(kind)
		k = &ks
	}
	rows, err := s.st.Q.PolicyListByWorkspace(ctx, db.PolicyListByWorkspaceParams{WorkspaceID: ws, Kind: k})
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	out := make([]Policy, len(rows))
	for i, r := range rows {
		out[i] = policyFromDB(r)
	}
	return out, nil
}

// Get returns a policy and its versions, newest first, without sources.
func (s *Store) Get(ctx context.Context, ws uuid.UUID, kind Kind, name string) (Policy, []Version, error) {
	p, err := s.st.Q.PolicyGetByName(ctx, db.PolicyGetByNameParams{WorkspaceID: ws, Kind: string(kind), Name: name})
	if err != nil {
		return Policy{}, nil, notFound(err, "get policy")
	}
	rows, err := s.st.Q.PolicyVersionList(ctx, db.PolicyVersionListParams{WorkspaceID: ws, PolicyID: p.ID})
	if err != nil {
		return Policy{}, nil, fmt.Errorf("list policy versions: %w", err)
	}
	versions := make([]Version, len(rows))
	for i, r := range rows {
		versions[i] = Version{Version: r.Version, SHA256: hex.EncodeToString(r.Sha256), CreatedBy: r.CreatedBy, CreateTime: r.CreateTime}
	}
	return policyFromDB(p), versions, nil
}

// GetVersion returns one version of a policy with its source. Version 0
// selects the active version, or the latest when the policy is inactive.
func (s *Store) GetVersion(ctx context.Context, ws uuid.UUID, kind Kind, name string, version int32) (Version, error) {
	p, err := s.st.Q.PolicyGetByName(ctx, db.PolicyGetByNameParams{WorkspaceID: ws, Kind: string(kind), Name: name})
	if err != nil {
		return Version{}, notFound(err, "get policy")
	}
	if version == 0 {
		version = p.LatestVersion
		if p.ActiveVersion != nil {
			version = *p.ActiveVersion
		}
	}
	v, err := s.st.Q.PolicyVersionGet(ctx, db.PolicyVersionGetParams{WorkspaceID: ws, PolicyID: p.ID, Version: version})
	if err != nil {
		return Version{}, notFound(err, "get policy version")
	}
	return versionFromDB(v, true), nil
}

// Activate makes version the active version of the policy, after checking
// that the workspace's active policies of that kind, with it, compile
// together with the built-in policy. Errors: [ErrNotFound],
// [*CompileError], [ErrLimit] past [MaxActivePolicies].
func (s *Store) Activate(ctx context.Context, ws uuid.UUID, kind Kind, name string, version int32) (Policy, error) {
	var out Policy
	err := s.st.Tx(ctx, func(q db.Querier) error {
		p, v, err := lockPolicy(ctx, q, ws, kind, name, version)
		if err != nil {
			return err
		}
		active, err := activeModules(ctx, q, ws, kind)
		if err != nil {
			return err
		}
		set := replaceModule(active, Module{Name: name, Source: v.Source})
		if len(set) > MaxActivePolicies {
			return fmt.Errorf("%w: at most %d %s policies may be active; deactivate one first", ErrLimit, MaxActivePolicies, kind)
		}
		if _, err := s.compile(kind, moduleList(set)); err != nil {
			return err
		}
		out, err = setActive(ctx, q, s.clock.Now(), p, &version)
		return err
	})
	if err == nil {
		s.cache.invalidate(ws, kind)
	}
	return out, err
}

// Deactivate takes the policy out of effect. Deactivating an inactive
// policy changes nothing. Errors: [ErrNotFound].
func (s *Store) Deactivate(ctx context.Context, ws uuid.UUID, kind Kind, name string) (Policy, error) {
	var out Policy
	err := s.st.Tx(ctx, func(q db.Querier) error {
		p, _, err := lockPolicy(ctx, q, ws, kind, name, 0)
		if err != nil {
			return err
		}
		if p.ActiveVersion == nil {
			out = policyFromDB(p)
			return nil
		}
		out, err = setActive(ctx, q, s.clock.Now(), p, nil)
		return err
	})
	if err == nil {
		s.cache.invalidate(ws, kind)
	}
	return out, err
}

// lockPolicy serializes changes to the active policies of the workspace
// and kind, then returns the policy and, when version is not 0, that
// version with its source.
func lockPolicy(ctx context.Context, q db.Querier, ws uuid.UUID, kind Kind, name string, version int32) (db.Policy, db.PolicyVersion, error) {
	// Taking the generation row first makes concurrent activations in one
	// workspace and kind run one after the other, so each compiles the set
	// it leaves behind. The bump is rolled back with any failure.
	if _, err := q.PolicyGenerationBump(ctx, db.PolicyGenerationBumpParams{WorkspaceID: ws, Kind: string(kind)}); err != nil {
		return db.Policy{}, db.PolicyVersion{}, fmt.Errorf("bump policy generation: %w", err)
	}
	p, err := q.PolicyGetByNameForUpdate(ctx, db.PolicyGetByNameForUpdateParams{WorkspaceID: ws, Kind: string(kind), Name: name})
	if err != nil {
		return db.Policy{}, db.PolicyVersion{}, notFound(err, "get policy")
	}
	if version == 0 {
		return p, db.PolicyVersion{}, nil
	}
	v, err := q.PolicyVersionGet(ctx, db.PolicyVersionGetParams{WorkspaceID: ws, PolicyID: p.ID, Version: version})
	if err != nil {
		return db.Policy{}, db.PolicyVersion{}, notFound(err, "get policy version")
	}
	return p, v, nil
}

// setActive stores the new active version and announces the change.
func setActive(ctx context.Context, q db.Querier, now time.Time, p db.Policy, version *int32) (Policy, error) {
	row, err := q.PolicySetActive(ctx, db.PolicySetActiveParams{ID: p.ID, WorkspaceID: p.WorkspaceID, ActiveVersion: version, Now: now})
	if err != nil {
		return Policy{}, fmt.Errorf("set active policy version: %w", err)
	}
	payload := p.WorkspaceID.String() + "/" + p.Kind
	if err := q.Notify(ctx, db.NotifyParams{Channel: Channel, Payload: payload}); err != nil {
		return Policy{}, fmt.Errorf("notify %s: %w", Channel, err)
	}
	return policyFromDB(row), nil
}

// namedModule is an active module with the version it came from.
type namedModule struct {
	Module
	version int32
}

// activeModules returns the active modules of a workspace and kind, by
// policy name; Module.Name is the policy name.
func activeModules(ctx context.Context, q db.Querier, ws uuid.UUID, kind Kind) ([]namedModule, error) {
	rows, err := q.PolicyListActiveSources(ctx, db.PolicyListActiveSourcesParams{WorkspaceID: ws, Kind: string(kind)})
	if err != nil {
		return nil, fmt.Errorf("list active policies: %w", err)
	}
	out := make([]namedModule, len(rows))
	for i, r := range rows {
		out[i] = namedModule{Module: Module{Name: r.Name, Source: r.Source}, version: r.Version}
	}
	return out, nil
}

// replaceModule returns set with the module of m's name replaced by m, or
// with m added.
func replaceModule(set []namedModule, m Module) []namedModule {
	out := make([]namedModule, 0, len(set)+1)
	for _, n := range set {
		if n.Name != m.Name {
			out = append(out, n)
		}
	}
	return append(out, namedModule{Module: m})
}

func moduleList(set []namedModule) []Module {
	out := make([]Module, len(set))
	for i, n := range set {
		out[i] = n.Module
	}
	return out
}

// compile compiles workspace modules (named by policy) with the built-in
// policy of kind.
func (s *Store) compile(kind Kind, modules []Module) (*Compiled, error) {
	b, err := s.builtin(kind)
	if err != nil {
		return nil, fmt.Errorf("load built-in %s policy: %w", kind, err)
	}
	return Compile(kind, b, modules)
}

// Candidate is a policy version a dry run evaluates in place of the active
// version of the policy of the same name: an uploaded Version, or a Source
// not stored.
type Candidate struct {
	Name    string
	Version int32
	Source  string
}

// DryRunResult is a dry run's decision and the workspace modules it
// evaluated, as "name@version" ("name@candidate" for an unsaved source).
type DryRunResult struct {
	Decision
	Modules []string
}

// DryRun evaluates inputJSON against the built-in policy and the
// workspace's active policies of kind, with candidate, when not nil, in
// place of the policy of its name. Errors: [ErrNotFound] for an unknown
// candidate version, [*CompileError] for a candidate that does not compile,
// [ErrInvalidInput] for an input that is not a JSON object.
func (s *Store) DryRun(ctx context.Context, ws uuid.UUID, kind Kind, inputJSON string, candidate *Candidate, trace bool) (DryRunResult, error) {
	set, err := activeModules(ctx, s.st.Q, ws, kind)
	if err != nil {
		return DryRunResult{}, err
	}
	if candidate != nil {
		switch {
		case candidate.Name == "":
			return DryRunResult{}, fmt.Errorf("%w: a candidate needs the name of the policy it stands for", ErrInvalidInput)
		case candidate.Version != 0 && candidate.Source != "":
			return DryRunResult{}, fmt.Errorf("%w: give a candidate's version or its source, not both", ErrInvalidInput)
		case candidate.Version != 0:
			v, err := s.GetVersion(ctx, ws, kind, candidate.Name, candidate.Version)
			if err != nil {
				return DryRunResult{}, err
			}
			set = replaceModule(set, Module{Name: candidate.Name, Source: v.Source})
			set[len(set)-1].version = v.Version
		default:
			set = replaceModule(set, Module{Name: candidate.Name, Source: candidate.Source})
		}
	}
	compiled, err := s.compile(kind, moduleList(set))
	if err != nil {
		return DryRunResult{}, err
	}
	d, err := compiled.Explain(ctx, inputJSON, trace)
	if err != nil {
		return DryRunResult{}, err
	}
	res := DryRunResult{Decision: d}
	for _, m := range set {
		label := fmt.Sprintf("%s@%d", m.Name, m.version)
		if m.version == 0 {
			label = m.Name + "@candidate"
		}
		res.Modules = append(res.Modules, label)
	}
	return res, nil
}

func notFound(err error, op string) error {
	if store.IsNotFound(err) {
		return ErrNotFound
	}
	return fmt.Errorf("%s: %w", op, err)
}

func policyFromDB(p db.Policy) Policy {
	out := Policy{
		ID: p.ID, WorkspaceID: p.WorkspaceID, Kind: Kind(p.Kind), Name: p.Name,
		LatestVersion: p.LatestVersion, CreateTime: p.CreateTime, UpdateTime: p.UpdateTime,
	}
	if p.ActiveVersion != nil {
		out.ActiveVersion = *p.ActiveVersion
	}
	return out
}

func versionFromDB(v db.PolicyVersion, withSource bool) Version {
	out := Version{Version: v.Version, SHA256: hex.EncodeToString(v.Sha256), CreatedBy: v.CreatedBy, CreateTime: v.CreateTime}
	if withSource {
		out.Source = v.Source
	}
	return out
}
