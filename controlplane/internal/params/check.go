package params

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxSize is the largest accepted parameter object, in bytes of JSON text.
	MaxSize = 64 << 10
	// MaxDepth is the deepest accepted nesting of objects and arrays; the
	// top-level object is at depth 1.
	MaxDepth = 32
	// maxExponent bounds the exponent written in a JSON number. Exact
	// decoding (math/big) of 1e999999 takes tens of milliseconds, so a 64 KiB
	// object full of such numbers would stall validation for minutes; no real
	// parameter needs an exponent beyond float64's ±308.
	maxExponent = 1000
)

// Error describes why parameters were rejected. Its text is safe to show to
// the client that sent the parameters.
type Error struct {
	// Path locates the offending value inside the parameter object, such as
	// "top_n", "limits.cpu" or "files[2]"; empty means the object as a whole.
	Path string
	// Reason says what is wrong, such as "must be <= 100".
	Reason string
}

// Error returns `parameter "path": reason`, or only the reason when the
// error concerns the object as a whole.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return fmt.Sprintf("parameter %q: %s", e.Path, e.Reason)
}

// limits bounds the JSON text accepted by [check].
type limits struct {
	size  int
	depth int
}

var paramLimits = limits{size: MaxSize, depth: MaxDepth}

// Check reports whether raw is an acceptable parameter object: a JSON object
// of at most [MaxSize] bytes and [MaxDepth] levels of nesting, valid UTF-8,
// with no duplicate key in any object and no number with an exponent beyond
// ±1000. The empty string is not an object and is rejected. Check returns
// nil or an [*Error].
func Check(raw string) error {
	return check(raw, paramLimits)
}

// frame is one open object or array while [check] walks the tokens.
type frame struct {
	object  bool
	wantKey bool                // object only: the next token is a key or '}'
	key     string              // object only: the key of the current member
	keys    map[string]struct{} // object only: keys seen so far
	index   int                 // array only: index of the next element
}

func check(raw string, lim limits) error {
	if len(raw) > lim.size {
		return &Error{Reason: fmt.Sprintf("must be at most %d bytes, got %d", lim.size, len(raw))}
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD.
	if !utf8.ValidString(raw) {
		return &Error{Reason: "must be valid UTF-8"}
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()

	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{Reason: "must be a JSON object, got empty text"}
		}
		return syntaxError(raw, dec, nil, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &Error{Reason: "must be a JSON object"}
	}
	stack := []frame{{object: true, wantKey: true, keys: map[string]struct{}{}}}

	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(raw, dec, stack, err)
		}
		top := &stack[len(stack)-1]
		if top.object && top.wantKey {
			key, ok := tok.(string)
			if !ok {
				// The decoder only hands out a string or '}' here.
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			top.key = key
			top.wantKey = false
			if _, dup := top.keys[key]; dup {
				return &Error{Path: pathOf(stack), Reason: "duplicate key"}
			}
			top.keys[key] = struct{}{}
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= lim.depth {
					return &Error{
						Path:   pathOf(stack),
						Reason: fmt.Sprintf("nests deeper than %d levels", lim.depth),
					}
				}
				f := frame{object: t == '{', wantKey: t == '{'}
				if f.object {
					f.keys = map[string]struct{}{}
				}
				stack = append(stack, f)
			default: // ']'; '}' was handled with the keys above
				stack = stack[:len(stack)-1]
				valueDone(stack)
			}
		case json.Number:
			if err := checkExponent(string(t)); err != nil {
				return &Error{Path: pathOf(stack), Reason: err.Error()}
			}
			valueDone(stack)
		default:
			valueDone(stack)
		}
	}

	end := int(dec.InputOffset())
	if rest := strings.TrimLeft(raw[end:], " \t\r\n"); rest != "" {
		return &Error{Reason: fmt.Sprintf(
			"unexpected text after the JSON object at offset %d", len(raw)-len(rest))}
	}
	return nil
}

// valueDone records that the current member or element is complete.
func valueDone(stack []frame) {
	if len(stack) == 0 {
		return
	}
	top := &stack[len(stack)-1]
	if top.object {
		top.wantKey = true
	} else {
		top.index++
	}
}

// syntaxError turns a decoder error into an [*Error] located at the member
// being read, with a clear reason for the non-JSON NaN and Infinity.
func syntaxError(raw string, dec *json.Decoder, stack []frame, err error) *Error {
	off := int(dec.InputOffset())
	if off <= len(raw) {
		// The offset is at the sign of "-Infinity".
		rest := strings.TrimLeft(raw[off:], "+-")
		if strings.HasPrefix(rest, "NaN") || strings.HasPrefix(rest, "Infinity") {
			return &Error{
				Path:   pathOf(stack),
				Reason: "NaN and Infinity are not JSON numbers",
			}
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Path: pathOf(stack), Reason: "invalid JSON: unexpected end of text"}
	}
	return &Error{
		Path:   pathOf(stack),
		Reason: fmt.Sprintf("invalid JSON at offset %d: %s", off, err),
	}
}

// checkExponent rejects a number whose exponent is beyond ±[maxExponent].
func checkExponent(num string) error {
	i := strings.IndexAny(num, "eE")
	if i < 0 {
		return nil
	}
	digits := strings.TrimLeft(strings.TrimLeft(num[i+1:], "+-"), "0")
	if digits == "" {
		return nil
	}
	// Five or more significant digits exceed maxExponent without parsing.
	if n, err := strconv.Atoi(digits); len(digits) > 4 || err != nil || n > maxExponent {
		return fmt.Errorf("number exponent must be between -%d and %d", maxExponent, maxExponent)
	}
	return nil
}

// pathOf renders the location of the value being read. An array's index and
// an object's key are advanced only once their value is complete, so every
// frame names the member that is open below it.
func pathOf(stack []frame) string {
	var b strings.Builder
	for i, f := range stack {
		switch {
		case !f.object:
			fmt.Fprintf(&b, "[%d]", f.index)
		case f.wantKey && i == len(stack)-1:
			// The innermost object is between members.
		default:
			writeKey(&b, f.key)
		}
	}
	return b.String()
}

// writeKey appends an object key to a path: dotted when it is a plain name,
// bracketed and quoted otherwise.
func writeKey(b *strings.Builder, key string) {
	if plainKey(key) {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(key)
		return
	}
	b.WriteByte('[')
	b.WriteString(strconv.Quote(key))
	b.WriteByte(']')
}

// plainKey reports whether key can be written in a dotted path unquoted.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		ok := r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
			(r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
