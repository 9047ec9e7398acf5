package validate

import (
	"errors"
	"unicode"
	"unicode/utf8"

	"github.com/ferryhq/ferry/controlplane/internal/params"
	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

const (
	// maxNameLen is the longest FORMAT_NAME: a DNS label.
	maxNameLen = 63
	// maxLabelRunes is the longest FORMAT_LABEL, in characters.
	maxLabelRunes = 63
)

// formatReason checks s against f and returns why it does not match, or ""
// when it does.
func formatReason(f ferryv1.Format, s string) string {
	switch f {
	case ferryv1.Format_FORMAT_NAME:
		if !isName(s) {
			return "must be a name: 1 to 63 lower-case letters, digits and '-', " +
				"starting with a letter and not ending with '-'"
		}
	case ferryv1.Format_FORMAT_UUID:
		if !isUUID(s) {
			return "must be a lower-case UUID such as 123e4567-e89b-12d3-a456-426614174000"
		}
	case ferryv1.Format_FORMAT_LABEL:
		if !isLabel(s) {
			return "must be 1 to 63 printable characters without spaces"
		}
	case ferryv1.Format_FORMAT_ENV_NAME:
		if !isEnvName(s) {
			return "must be an environment variable name: letters, digits and '_', " +
				"not starting with a digit"
		}
	case ferryv1.Format_FORMAT_JSON_OBJECT:
		if err := params.Check(s); err != nil {
			return err.Error()
		}
	case ferryv1.Format_FORMAT_JSON_SCHEMA:
		if err := params.CheckSchema(s); err != nil {
			var serr *params.SchemaError
			if errors.As(err, &serr) {
				return "must be a valid JSON Schema: " + serr.Reason
			}
			return "must be a valid JSON Schema"
		}
	}
	return ""
}

// isName reports whether s matches ^[a-z][a-z0-9-]{0,62}$ and does not end
// with '-'.
func isName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a UUID in canonical lower-case form: what
// uuid.Parse(s).String() gives back. It checks the characters directly, since
// an agent's report carries a thousand run IDs and String allocates.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// isLabel reports whether s has 1 to 63 characters, each printable and none
// a space.
func isLabel(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLabelRunes {
		return false
	}
	for _, r := range s {
		// IsPrint admits the ASCII space and no other space character.
		if r == ' ' || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// isEnvName reports whether s matches [A-Za-z_][A-Za-z0-9_]*.
func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
