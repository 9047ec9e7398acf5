// Package validate checks API request messages against the rules declared in
// the proto files, so that limits are written down in one place.
//
// Fields carry rules through the (ferry.v1.rules) option, a
// [ferryv1.FieldRules]. [Message] walks a message with protoreflect, into set
// sub-messages, repeated messages and map values, and reports the first
// violation in field order as a [*FieldError]. [Interceptor] runs [Message]
// on every request a Connect handler receives.
//
// Beyond the declared rules, every field has a bound:
//   - a string or bytes field without max_len is capped at [DefaultMaxLen],
//     and so is each element, map key and map value without item_max_len;
//   - a repeated or map field without max_items is capped at
//     [DefaultMaxItems];
//   - strings must be valid UTF-8;
//   - a set google.protobuf.Duration must be valid, non-negative and at most
//     [MaxDuration]; a set google.protobuf.Timestamp must be valid.
//
// Rule semantics:
//   - required rejects an unset field: an empty string or list, a zero
//     number or enum, an unset message; a proto3 optional scalar counts as
//     set once it is assigned, even to zero;
//   - format applies to a non-empty singular string; the empty string is
//     left to required;
//   - item_format applies to every element of a repeated string field and
//     to every key of a map field with string keys, empty ones included;
//   - item_max_len applies to string and bytes elements, and to map keys
//     and string or bytes map values;
//   - FORMAT_JSON_OBJECT is checked by [params.Check] and
//     FORMAT_JSON_SCHEMA by [params.CheckSchema];
//   - min and max apply to integer fields, to each element of repeated
//     integer fields and to each integer map value.
//
// A proto declares an environment map as
//
//	map<string, string> env = 5 [(rules) = {item_max_len: 8192, item_format: FORMAT_ENV_NAME}];
//
// so that each key is an environment variable name.
//
// The package only inspects messages; it never changes them and never
// touches storage.
package validate
