package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// jsonNumberRE matches the number syntax of JSON (RFC 8259).
var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// jsonObject decodes a field holding a JSON object: either a YAML mapping,
// converted to JSON text, or a string that already holds a JSON object.
// Null means unset.
func (p *fileParser) jsonObject(n *yaml.Node, field string) string {
	n = p.deref(n)
	var out []byte
	switch {
	case isNull(n):
		return ""
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		text := strings.TrimSpace(n.Value)
		if !strings.HasPrefix(text, "{") || !json.Valid([]byte(text)) {
			p.errorf(n, "%s must be a mapping, or a string holding a JSON object", field)
			return ""
		}
		out = []byte(text)
	case n.Kind == yaml.MappingNode:
		var ok bool
		p.visits = 0
		out, ok = p.appendJSON(nil, n, field, 0)
		if !ok {
			return ""
		}
	default:
		p.errorf(n, "%s must be a mapping, or a string holding a JSON object", field)
		return ""
	}
	if len(out) > maxJSONBytes {
		p.errorf(n, "%s is %d bytes as JSON; the limit is %d", field, len(out), maxJSONBytes)
		return ""
	}
	return string(out)
}

// appendJSON appends n as JSON to buf, keeping the order of mapping keys
// and the exact text of numbers: an integer written in decimal is copied
// as written, so 9007199254740993 does not pass through a float64. It
// reports false after recording an error.
func (p *fileParser) appendJSON(buf []byte, n *yaml.Node, field string, depth int) ([]byte, bool) {
	p.visits++
	if p.visits > maxNodeVisits {
		p.errorf(n, "%s: too many values (do aliases expand too far?)", field)
		return buf, false
	}
	if depth > maxJSONDepth {
		p.errorf(n, "%s: nested deeper than %d levels", field, maxJSONDepth)
		return buf, false
	}
	if len(buf) > maxJSONBytes {
		p.errorf(n, "%s: larger than %d bytes as JSON", field, maxJSONBytes)
		return buf, false
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			p.errorf(n, "%s: unknown alias", field)
			return buf, false
		}
		return p.appendJSON(buf, n.Alias, field, depth+1)
	case yaml.MappingNode:
		return p.appendJSONObject(buf, n, field, depth)
	case yaml.SequenceNode:
		buf = append(buf, '[')
		for i, item := range n.Content {
			if i > 0 {
				buf = append(buf, ',')
			}
			var ok bool
			if buf, ok = p.appendJSON(buf, item, field, depth+1); !ok {
				return buf, false
			}
		}
		return append(buf, ']'), true
	case yaml.ScalarNode:
		return p.appendJSONScalar(buf, n, field)
	default:
		p.errorf(n, "%s: unexpected YAML node", field)
		return buf, false
	}
}

func (p *fileParser) appendJSONObject(buf []byte, n *yaml.Node, field string, depth int) ([]byte, bool) {
	buf = append(buf, '{')
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := p.deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: an object key must be a string", field)
			return buf, false
		}
		if k.ShortTag() == "!!merge" {
			p.errorf(k, "%s: merge keys (<<) are not supported", field)
			return buf, false
		}
		if seen[k.Value] {
			p.errorf(k, "%s: key %q appears twice", field, k.Value)
			return buf, false
		}
		seen[k.Value] = true
		if i > 0 {
			buf = append(buf, ',')
		}
		var ok bool
		if buf, ok = p.appendJSONString(buf, k, field); !ok {
			return buf, false
		}
		buf = append(buf, ':')
		if buf, ok = p.appendJSON(buf, n.Content[i+1], field, depth+1); !ok {
			return buf, false
		}
	}
	return append(buf, '}'), true
}

func (p *fileParser) appendJSONScalar(buf []byte, n *yaml.Node, field string) ([]byte, bool) {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return append(buf, "null"...), true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			p.errorf(n, "%s: %v", field, err)
			return buf, false
		}
		return strconv.AppendBool(buf, b), true
	case "!!int":
		if lit := strings.TrimPrefix(n.Value, "+"); jsonNumberRE.MatchString(lit) {
			return append(buf, lit...), true
		}
		// Hexadecimal, octal and underscored forms are converted; only
		// these pass through an integer type.
		var i int64
		if err := n.Decode(&i); err == nil {
			return strconv.AppendInt(buf, i, 10), true
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return strconv.AppendUint(buf, u, 10), true
		}
		p.errorf(n, "%s: integer %s is out of range; write it in decimal to keep it exact", field, n.Value)
		return buf, false
	case "!!float":
		if lit := strings.TrimPrefix(n.Value, "+"); jsonNumberRE.MatchString(lit) {
			return append(buf, lit...), true
		}
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			p.errorf(n, "%s: %s is not a number JSON can hold", field, n.Value)
			return buf, false
		}
		return strconv.AppendFloat(buf, f, 'g', -1, 64), true
	case "!!str", "!!timestamp", "!!binary":
		return p.appendJSONString(buf, n, field)
	default:
		p.errorf(n, "%s: YAML tag %s has no JSON equivalent", field, tag)
		return buf, false
	}
}

// appendJSONString appends the literal text of n as a JSON string.
func (p *fileParser) appendJSONString(buf []byte, n *yaml.Node, field string) ([]byte, bool) {
	if !utf8.ValidString(n.Value) {
		p.errorf(n, "%s: text is not valid UTF-8", field)
		return buf, false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(n.Value); err != nil {
		p.errorf(n, "%s: %v", field, err)
		return buf, false
	}
	return append(buf, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...), true
}
