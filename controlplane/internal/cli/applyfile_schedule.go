package cli

import (
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// maxSchedulesPerDeployment caps the schedules one deployment lists in an
// apply file.
const maxSchedulesPerDeployment = 100

// schedulesOf decodes the schedules list of a deployment; what names the
// deployment in messages. The deployment field of each request is left for
// the caller to fill.
func (p *fileParser) schedulesOf(n *yaml.Node, what string) []*ferryv1.ApplyScheduleRequest {
	var out []*ferryv1.ApplyScheduleRequest
	lines := map[string]int{}
	p.each(n, "schedules", func(item *yaml.Node) {
		req := p.schedule(item, what)
		if req.GetName() != "" {
			if line, dup := lines[req.GetName()]; dup {
				p.errorf(item, "%s: schedule %q is already defined on line %d", what, req.GetName(), line)
			}
			lines[req.GetName()] = item.Line
		}
		out = append(out, req)
	})
	if len(out) > maxSchedulesPerDeployment {
		p.errorf(n, "%s: %d schedules; the limit is %d", what, len(out), maxSchedulesPerDeployment)
	}
	return out
}

// schedule decodes one schedule: exactly one of cron, interval and rrule,
// and its optional settings.
func (p *fileParser) schedule(n *yaml.Node, deployment string) *ferryv1.ApplyScheduleRequest {
	what := deployment + " " + p.describe(n, "schedule")
	spec := &ferryv1.ScheduleSpec{}
	req := &ferryv1.ApplyScheduleRequest{Spec: spec}
	kinds := 0
	p.fields(n, what, map[string]fieldFunc{
		"name": func(v *yaml.Node) { req.Name = p.name(v, "schedule name") },
		"cron": func(v *yaml.Node) {
			kinds++
			spec.Kind, spec.Expression = ferryv1.ScheduleKind_SCHEDULE_KIND_CRON, p.text(v, "cron", 1024)
		},
		"rrule": func(v *yaml.Node) {
			kinds++
			spec.Kind, spec.Expression = ferryv1.ScheduleKind_SCHEDULE_KIND_RRULE, p.text(v, "rrule", 1024)
		},
		"interval": func(v *yaml.Node) {
			kinds++
			spec.Kind, spec.Interval = ferryv1.ScheduleKind_SCHEDULE_KIND_INTERVAL, p.duration(v, "interval")
		},
		"zone":               func(v *yaml.Node) { spec.Zone = p.text(v, "zone", 64) },
		"anchor":             func(v *yaml.Node) { spec.AnchorTime = p.timestamp(v, "anchor") },
		"parameters":         func(v *yaml.Node) { spec.Parameters = p.jsonObject(v, "parameters") },
		"active":             func(v *yaml.Node) { active := p.boolean(v, "active"); spec.Active = &active },
		"jitter":             func(v *yaml.Node) { spec.Jitter = p.duration(v, "jitter") },
		"catch_up":           func(v *yaml.Node) { spec.CatchUp = p.catchUp(v) },
		"catch_up_limit":     func(v *yaml.Node) { spec.CatchUpLimit = p.int32In(v, "catch_up_limit", 0, 1000) },
		"drop_if_later_than": func(v *yaml.Node) { spec.DropIfLaterThan = p.duration(v, "drop_if_later_than") },
	})
	if p.deref(n).Kind != yaml.MappingNode {
		return req
	}
	if req.Name == "" {
		p.errorf(n, "%s: name is required", what)
	}
	if kinds != 1 {
		p.errorf(n, "%s: give exactly one of cron, interval and rrule", what)
	}
	return req
}

// timestamp decodes an RFC 3339 time; null means unset.
func (p *fileParser) timestamp(n *yaml.Node, field string) *timestamppb.Timestamp {
	n, ok := p.scalar(n, field, "an RFC 3339 time such as 2025-01-01T00:00:00Z")
	if !ok || isNull(n) {
		return nil
	}
	t, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		p.errorf(n, "%s must be an RFC 3339 time such as 2025-01-01T00:00:00Z, not %q", field, n.Value)
		return nil
	}
	return timestamppb.New(t)
}

func (p *fileParser) catchUp(n *yaml.Node) ferryv1.CatchUpPolicy {
	s := p.text(n, "catch_up", 16)
	policy, err := catchUpPolicy(s)
	if err != nil {
		p.errorf(n, "catch_up must be skip, latest or all, not %q", s)
	}
	return policy
}
