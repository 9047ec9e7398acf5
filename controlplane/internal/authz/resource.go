package authz

import (
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// resourceFields are the request fields that identify what a call acts on.
// A request message of ferry.v1 names its target with these.
var resourceFields = []protoreflect.Name{"id", "name", "pool", "deployment", "queue", "email"}

// Procedures whose method names an action rather than the kind of object
// acted on: their resource type is the kind of their target.
const (
	pauseProcedure  = "/ferry.v1.PauseService/Pause"
	resumeProcedure = "/ferry.v1.PauseService/Resume"
)

// ResourceOf returns what a call acts on, read cheaply from its request: a
// "type" derived from the procedure's method (CreateAgentToken gives
// "agent_token", ListAPIKeys gives "api_key", ListRuns gives "run") and
// each of the fields id, name, pool, deployment, queue and email that the
// request sets as a non-empty string, at its top level or, when absent
// there, in one of its message fields (CreateRun's run.deployment). It
// reads nothing else and never a repeated field, so it costs a few field
// lookups.
//
// Pause and Resume act on their target, so their type is the target's
// kind (deployment, work_pool or work_queue) and their name the target's
// name, as for the calls that apply that kind.
func ResourceOf(procedure string, msg any) map[string]string {
	out := map[string]string{}
	if t := resourceType(procedure); t != "" {
		out["type"] = t
	}
	m, ok := msg.(proto.Message)
	if !ok || m == nil {
		return out
	}
	r := m.ProtoReflect()
	if !r.IsValid() {
		return out
	}
	stringFields(r, out)
	fields := r.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() == protoreflect.MessageKind && fd.Cardinality() != protoreflect.Repeated && r.Has(fd) {
			stringFields(r.Get(fd).Message(), out)
		}
	}
	if procedure == pauseProcedure || procedure == resumeProcedure {
		retypePauseTarget(out)
	}
	return out
}

// retypePauseTarget gives the resource of a Pause or Resume call the kind
// and name of its target: a queue of a pool, a pool or a deployment.
func retypePauseTarget(out map[string]string) {
	switch {
	case out["queue"] != "":
		out["type"], out["name"] = "work_queue", out["queue"]
	case out["pool"] != "":
		out["type"], out["name"] = "work_pool", out["pool"]
	case out["deployment"] != "":
		out["type"], out["name"] = "deployment", out["deployment"]
	}
}

// stringFields copies the resource fields that r sets and out lacks.
func stringFields(r protoreflect.Message, out map[string]string) {
	fields := r.Descriptor().Fields()
	for _, name := range resourceFields {
		if _, done := out[string(name)]; done {
			continue
		}
		fd := fields.ByName(name)
		if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
			continue
		}
		if v := r.Get(fd).String(); v != "" {
			out[string(name)] = v
		}
	}
}

// resourceType derives a resource type from a procedure's method: its
// first word, the verb, is dropped and the rest is singular snake case.
// A method of one word is the type itself.
func resourceType(procedure string) string {
	i := strings.LastIndexByte(procedure, '/')
	method := procedure[i+1:]
	words := camelWords(method)
	if len(words) > 1 {
		words = words[1:]
	}
	last := len(words) - 1
	if last >= 0 && len(words[last]) > 1 {
		words[last] = strings.TrimSuffix(words[last], "s")
	}
	return strings.ToLower(strings.Join(words, "_"))
}

// camelWords splits a CamelCase name into its words, keeping a run of
// capitals together as one word (an acronym): "ListAPIKeys" gives List, API
// and Keys. A run of capitals followed by a lower-case letter ends one
// letter early, since that capital starts the next word, unless that
// letter is a final plural s ("ListIDs" gives List and IDs).
func camelWords(s string) []string {
	rs := []rune(s)
	var words []string
	start := 0
	for i := 1; i < len(rs); i++ {
		if !unicode.IsUpper(rs[i]) {
			continue
		}
		afterLower := !unicode.IsUpper(rs[i-1])
		plural := i+2 == len(rs) && rs[i+1] == 's'
		endsAcronym := i+1 < len(rs) && unicode.IsLower(rs[i+1]) && !plural
		if afterLower || endsAcronym {
			words = append(words, string(rs[start:i]))
			start = i
		}
	}
	if start < len(rs) {
		words = append(words, string(rs[start:]))
	}
	return words
}

// resourceLabel names a resource for the call record: its type and the
// first identifying field it has, such as "deployment/etl"; "" when the
// request names nothing.
func resourceLabel(res map[string]string) string {
	for _, name := range resourceFields {
		if v, ok := res[string(name)]; ok {
			return res["type"] + "/" + v
		}
	}
	return ""
}
