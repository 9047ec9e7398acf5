package authz

import (
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// resourceFields are the request fields that identify what a call acts on.
// A request message of ferry.v1 names its target with these.
var resourceFields = []protoreflect.Name{"id", "name", "pool", "deployment", "queue"}

// ResourceOf returns what a call acts on, read cheaply from its request: a
// "type" derived from the procedure's method (CreateAgentToken gives
// "agent_token", ListRuns gives "run") and each of the fields id, name,
// pool, deployment and queue that the request sets as a non-empty string,
// at its top level or, when absent there, in one of its message fields
// (CreateRun's run.deployment). It reads nothing else and never a
// repeated field, so it costs a few field lookups.
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
	return out
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

func camelWords(s string) []string {
	var words []string
	start := 0
	for i, r := range s {
		if i > start && unicode.IsUpper(r) {
			words = append(words, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		words = append(words, s[start:])
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
