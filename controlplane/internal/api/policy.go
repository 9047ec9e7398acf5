package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferryhq/ferry/controlplane/internal/policystore"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// PolicyServer implements [ferryv1connect.PolicyServiceHandler] over a
// [policystore.Store]. Policies and Log are required.
type PolicyServer struct {
	Policies *policystore.Store
	Log      *slog.Logger
}

var _ ferryv1connect.PolicyServiceHandler = (*PolicyServer)(nil)

// policyAdminRoles are the API key roles that may change a workspace's
// policies. The authorization policy decides too; this keeps the rule when
// it is not wired.
var policyAdminRoles = map[string]bool{"owner": true, "admin": true}

// UploadPolicy checks and stores a new version of a policy.
func (s *PolicyServer) UploadPolicy(
	ctx context.Context,
	req *connect.Request[ferryv1.UploadPolicyRequest],
) (*connect.Response[ferryv1.UploadPolicyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !policyAdminRoles[p.Role] {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only an owner or admin may upload policies"))
	}
	kind, err := policyKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	res, err := s.Policies.Upload(ctx, p.WorkspaceID, kind, req.Msg.GetName(), req.Msg.GetSource(), p.Subject)
	if err != nil {
		return nil, s.mapError(ctx, "upload policy", "source", err)
	}
	if res.Created {
		s.Log.InfoContext(ctx, "policy uploaded",
			slog.String("workspace_id", p.WorkspaceID.String()), slog.String("kind", string(kind)),
			slog.String("policy", res.Policy.Name), slog.Int("version", int(res.Version.Version)),
			slog.String("subject", p.Subject))
	}
	return connect.NewResponse(&ferryv1.UploadPolicyResponse{
		Policy:  policyToProto(res.Policy),
		Version: policyVersionToProto(res.Version),
		Created: res.Created,
	}), nil
}

// ListPolicies lists the workspace's policies.
func (s *PolicyServer) ListPolicies(
	ctx context.Context,
	req *connect.Request[ferryv1.ListPoliciesRequest],
) (*connect.Response[ferryv1.ListPoliciesResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var kind policystore.Kind
	if req.Msg.GetKind() != ferryv1.PolicyKind_POLICY_KIND_UNSPECIFIED {
		if kind, err = policyKind(req.Msg.GetKind()); err != nil {
			return nil, err
		}
	}
	list, err := s.Policies.List(ctx, p.WorkspaceID, kind)
	if err != nil {
		return nil, s.mapError(ctx, "list policies", "", err)
	}
	resp := &ferryv1.ListPoliciesResponse{Policies: make([]*ferryv1.Policy, len(list))}
	for i, pol := range list {
		resp.Policies[i] = policyToProto(pol)
	}
	return connect.NewResponse(resp), nil
}

// GetPolicy returns a policy, its versions and one version's source.
func (s *PolicyServer) GetPolicy(
	ctx context.Context,
	req *connect.Request[ferryv1.GetPolicyRequest],
) (*connect.Response[ferryv1.GetPolicyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := policyKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	name := req.Msg.GetName()
	pol, versions, err := s.Policies.Get(ctx, p.WorkspaceID, kind, name)
	if err != nil {
		return nil, s.policyError(ctx, "get policy", kind, name, err)
	}
	src, err := s.Policies.GetVersion(ctx, p.WorkspaceID, kind, name, req.Msg.GetSourceVersion())
	if err != nil {
		return nil, s.policyError(ctx, "get policy", kind, fmt.Sprintf("%s@%d", name, req.Msg.GetSourceVersion()), err)
	}
	resp := &ferryv1.GetPolicyResponse{Policy: policyToProto(pol), Source: policyVersionToProto(src)}
	for _, v := range versions {
		resp.Versions = append(resp.Versions, policyVersionToProto(v))
	}
	return connect.NewResponse(resp), nil
}

// ActivatePolicyVersion puts a version of a policy in effect.
func (s *PolicyServer) ActivatePolicyVersion(
	ctx context.Context,
	req *connect.Request[ferryv1.ActivatePolicyVersionRequest],
) (*connect.Response[ferryv1.ActivatePolicyVersionResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !policyAdminRoles[p.Role] {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only an owner or admin may activate policies"))
	}
	kind, err := policyKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	name, version := req.Msg.GetName(), req.Msg.GetVersion()
	pol, err := s.Policies.Activate(ctx, p.WorkspaceID, kind, name, version)
	if err != nil {
		return nil, s.policyError(ctx, "activate policy", kind, fmt.Sprintf("%s@%d", name, version), err)
	}
	s.Log.InfoContext(ctx, "policy activated",
		slog.String("workspace_id", p.WorkspaceID.String()), slog.String("kind", string(kind)),
		slog.String("policy", name), slog.Int("version", int(version)), slog.String("subject", p.Subject))
	return connect.NewResponse(&ferryv1.ActivatePolicyVersionResponse{Policy: policyToProto(pol)}), nil
}

// DeactivatePolicy takes a policy out of effect.
func (s *PolicyServer) DeactivatePolicy(
	ctx context.Context,
	req *connect.Request[ferryv1.DeactivatePolicyRequest],
) (*connect.Response[ferryv1.DeactivatePolicyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !policyAdminRoles[p.Role] {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("only an owner or admin may deactivate policies"))
	}
	kind, err := policyKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	name := req.Msg.GetName()
	pol, err := s.Policies.Deactivate(ctx, p.WorkspaceID, kind, name)
	if err != nil {
		return nil, s.policyError(ctx, "deactivate policy", kind, name, err)
	}
	s.Log.InfoContext(ctx, "policy deactivated",
		slog.String("workspace_id", p.WorkspaceID.String()), slog.String("kind", string(kind)),
		slog.String("policy", name), slog.String("subject", p.Subject))
	return connect.NewResponse(&ferryv1.DeactivatePolicyResponse{Policy: policyToProto(pol)}), nil
}

// DryRunPolicy evaluates an input and explains the decision.
func (s *PolicyServer) DryRunPolicy(
	ctx context.Context,
	req *connect.Request[ferryv1.DryRunPolicyRequest],
) (*connect.Response[ferryv1.DryRunPolicyResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := policyKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	m := req.Msg
	var candidate *policystore.Candidate
	switch {
	case m.GetVersion() != 0 && m.GetSource() != "":
		return nil, errInvalid("source", "give version or source, not both")
	case (m.GetVersion() != 0 || m.GetSource() != "") && m.GetName() == "":
		return nil, errInvalid("name", "is required with version or source: name the policy the candidate stands for")
	case m.GetVersion() != 0 || m.GetSource() != "":
		candidate = &policystore.Candidate{Name: m.GetName(), Version: m.GetVersion(), Source: m.GetSource()}
	}
	res, err := s.Policies.DryRun(ctx, p.WorkspaceID, kind, m.GetInputJson(), candidate, m.GetTrace())
	if err != nil {
		return nil, s.policyError(ctx, "dry-run policy", kind, fmt.Sprintf("%s@%d", m.GetName(), m.GetVersion()), err)
	}
	resp := &ferryv1.DryRunPolicyResponse{Allowed: res.Allowed, Modules: res.Modules, Explanation: res.Explanation}
	for _, d := range res.Denials {
		resp.Denials = append(resp.Denials, &ferryv1.PolicyDenial{Message: d.Message, Workspace: d.Workspace, Rule: d.Rule})
	}
	return connect.NewResponse(resp), nil
}

// policyKind converts a required kind.
func policyKind(k ferryv1.PolicyKind) (policystore.Kind, error) {
	switch k {
	case ferryv1.PolicyKind_POLICY_KIND_AUTHZ:
		return policystore.KindAuthz, nil
	case ferryv1.PolicyKind_POLICY_KIND_ADMISSION:
		return policystore.KindAdmission, nil
	}
	return "", errInvalid("kind", "must be POLICY_KIND_AUTHZ or POLICY_KIND_ADMISSION")
}

func policyKindToProto(k policystore.Kind) ferryv1.PolicyKind {
	switch k {
	case policystore.KindAuthz:
		return ferryv1.PolicyKind_POLICY_KIND_AUTHZ
	case policystore.KindAdmission:
		return ferryv1.PolicyKind_POLICY_KIND_ADMISSION
	}
	return ferryv1.PolicyKind_POLICY_KIND_UNSPECIFIED
}

// policyError maps err, naming the policy in a NotFound answer.
func (s *PolicyServer) policyError(ctx context.Context, op string, kind policystore.Kind, name string, err error) error {
	if errors.Is(err, policystore.ErrNotFound) {
		return errNotFound(string(kind)+" policy", strings.TrimSuffix(name, "@0"))
	}
	return s.mapError(ctx, op, "source", err)
}

// mapError turns a policystore error into a Connect error; a compile error
// answers InvalidArgument naming the first problem's position, with every
// problem in a [ferryv1.PolicyProblems] detail.
func (s *PolicyServer) mapError(ctx context.Context, op, field string, err error) error {
	var ce *policystore.CompileError
	switch {
	case errors.As(err, &ce):
		cerr := connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: the policy does not compile:\n%s", field, ce.Error()))
		detail := &ferryv1.PolicyProblems{}
		for _, p := range ce.Problems {
			detail.Problems = append(detail.Problems, &ferryv1.PolicyProblem{
				File: p.File, Line: int32(p.Line), Column: int32(p.Column), Code: p.Code, Message: p.Message,
			})
		}
		if d, derr := connect.NewErrorDetail(detail); derr == nil {
			cerr.AddDetail(d)
		}
		return cerr
	case errors.Is(err, policystore.ErrInvalidInput):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(strings.TrimPrefix(err.Error(), "policystore: ")))
	case errors.Is(err, policystore.ErrLimit):
		return errPrecondition("%s", strings.TrimPrefix(err.Error(), "policystore: "))
	case errors.Is(err, policystore.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("policy not found"))
	}
	return errInternal(ctx, s.Log, op, err)
}

func policyToProto(p policystore.Policy) *ferryv1.Policy {
	return &ferryv1.Policy{
		Kind:          policyKindToProto(p.Kind),
		Name:          p.Name,
		LatestVersion: p.LatestVersion,
		ActiveVersion: p.ActiveVersion,
		CreateTime:    timestamppb.New(p.CreateTime),
		UpdateTime:    timestamppb.New(p.UpdateTime),
	}
}

func policyVersionToProto(v policystore.Version) *ferryv1.PolicyVersion {
	return &ferryv1.PolicyVersion{
		Version:    v.Version,
		Sha256:     v.SHA256,
		CreatedBy:  v.CreatedBy,
		CreateTime: timestamppb.New(v.CreateTime),
		Source:     v.Source,
	}
}
