package validate

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// kindsFile builds, at run time, a message with field kinds the ferry.v1
// API does not use yet, so that every branch of the walker is exercised:
//
//	message Kinds {
//	  uint64 big = 1 [(rules) = {min: 2, max: 10}];
//	  bytes blob = 2 [(rules).max_len = 4];
//	  repeated sint64 deltas = 3 [(rules) = {min: -5, max: 5}];
//	  map<int64, Sub> subs = 4;
//	  bool confirmed = 5 [(rules).required = true];
//	  repeated bytes chunks = 6 [(rules).item_max_len = 2];
//	  map<string, bytes> files = 7 [(rules) = {item_max_len: 3, item_format: FORMAT_NAME}];
//	  fixed32 misfit = 8 [(rules).max_len = 1];
//	}
//	message Sub { string x = 1 [(rules).format = FORMAT_UUID]; }
func kindsFile(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	rules := func(fr *ferryv1.FieldRules) *descriptorpb.FieldOptions {
		o := &descriptorpb.FieldOptions{}
		proto.SetExtension(o, ferryv1.E_Rules, fr)
		return o
	}
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, repeated bool, opts *descriptorpb.FieldOptions) *descriptorpb.FieldDescriptorProto {
		label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		if repeated {
			label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		}
		return &descriptorpb.FieldDescriptorProto{
			Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
			Label: label.Enum(), JsonName: proto.String(name), Options: opts,
		}
	}
	msgField := func(f *descriptorpb.FieldDescriptorProto, typeName string) *descriptorpb.FieldDescriptorProto {
		f.TypeName = proto.String(typeName)
		return f
	}
	entry := func(name string, key, val *descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{
			Name:    proto.String(name),
			Field:   []*descriptorpb.FieldDescriptorProto{key, val},
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
		}
	}
	const (
		tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tBytes   = descriptorpb.FieldDescriptorProto_TYPE_BYTES
		tUint64  = descriptorpb.FieldDescriptorProto_TYPE_UINT64
		tSint64  = descriptorpb.FieldDescriptorProto_TYPE_SINT64
		tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
		tBool    = descriptorpb.FieldDescriptorProto_TYPE_BOOL
		tFixed32 = descriptorpb.FieldDescriptorProto_TYPE_FIXED32
		tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("ferry/validatetest/kinds.proto"),
		Package:    proto.String("ferry.validatetest"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"ferry/v1/options.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Kinds"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("big", 1, tUint64, false, rules(&ferryv1.FieldRules{Min: proto.Int64(2), Max: proto.Int64(10)})),
					field("blob", 2, tBytes, false, rules(&ferryv1.FieldRules{MaxLen: 4})),
					field("deltas", 3, tSint64, true, rules(&ferryv1.FieldRules{Min: proto.Int64(-5), Max: proto.Int64(5)})),
					msgField(field("subs", 4, tMessage, true, nil), ".ferry.validatetest.Kinds.SubsEntry"),
					field("confirmed", 5, tBool, false, rules(&ferryv1.FieldRules{Required: true})),
					field("chunks", 6, tBytes, true, rules(&ferryv1.FieldRules{ItemMaxLen: 2})),
					msgField(field("files", 7, tMessage, true, rules(&ferryv1.FieldRules{ItemMaxLen: 3, ItemFormat: ferryv1.Format_FORMAT_NAME})), ".ferry.validatetest.Kinds.FilesEntry"),
					field("misfit", 8, tFixed32, false, rules(&ferryv1.FieldRules{MaxLen: 1})),
				},
				NestedType: []*descriptorpb.DescriptorProto{
					entry("SubsEntry", field("key", 1, tInt64, false, nil), msgField(field("value", 2, tMessage, false, nil), ".ferry.validatetest.Sub")),
					entry("FilesEntry", field("key", 1, tString, false, nil), field("value", 2, tBytes, false, nil)),
				},
			},
			{
				Name:  proto.String("Sub"),
				Field: []*descriptorpb.FieldDescriptorProto{field("x", 1, tString, false, rules(&ferryv1.FieldRules{Format: ferryv1.Format_FORMAT_UUID}))},
			},
		},
	}
	file, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("build descriptor: %v", err)
	}
	return file
}

func TestMessageFieldKinds(t *testing.T) {
	t.Parallel()
	file := kindsFile(t)
	kinds := file.Messages().ByName("Kinds")
	sub := file.Messages().ByName("Sub")
	fields := kinds.Fields()

	valid := func() *dynamicpb.Message {
		m := dynamicpb.NewMessage(kinds)
		m.Set(fields.ByName("big"), protoreflect.ValueOfUint64(2))
		m.Set(fields.ByName("confirmed"), protoreflect.ValueOfBool(true))
		return m
	}
	subWith := func(x string) protoreflect.Value {
		s := dynamicpb.NewMessage(sub)
		s.Set(sub.Fields().ByName("x"), protoreflect.ValueOfString(x))
		return protoreflect.ValueOfMessage(s)
	}
	tests := []struct {
		name string
		edit func(m *dynamicpb.Message)
		want *FieldError
	}{
		{name: "valid", edit: func(*dynamicpb.Message) {}},
		{name: "required bool", edit: func(m *dynamicpb.Message) { m.Clear(fields.ByName("confirmed")) }, want: &FieldError{"confirmed", "is required"}},
		{name: "uint zero under min", edit: func(m *dynamicpb.Message) { m.Clear(fields.ByName("big")) }, want: &FieldError{"big", "must be >= 2"}},
		{name: "uint at max", edit: func(m *dynamicpb.Message) { m.Set(fields.ByName("big"), protoreflect.ValueOfUint64(10)) }},
		{name: "uint over max", edit: func(m *dynamicpb.Message) { m.Set(fields.ByName("big"), protoreflect.ValueOfUint64(11)) }, want: &FieldError{"big", "must be <= 10"}},
		{name: "uint beyond int64", edit: func(m *dynamicpb.Message) { m.Set(fields.ByName("big"), protoreflect.ValueOfUint64(math.MaxUint64)) }, want: &FieldError{"big", "must be <= 10"}},
		{name: "bytes at max_len", edit: func(m *dynamicpb.Message) {
			m.Set(fields.ByName("blob"), protoreflect.ValueOfBytes([]byte{0xff, 0, 1, 2}))
		}},
		{name: "bytes over max_len", edit: func(m *dynamicpb.Message) { m.Set(fields.ByName("blob"), protoreflect.ValueOfBytes(make([]byte, 5))) }, want: &FieldError{"blob", "must be at most 4 bytes"}},
		{
			name: "repeated ints",
			edit: func(m *dynamicpb.Message) {
				l := m.Mutable(fields.ByName("deltas")).List()
				for _, v := range []int64{-5, 5, 6} {
					l.Append(protoreflect.ValueOfInt64(v))
				}
			},
			want: &FieldError{"deltas[2]", "must be <= 5"},
		},
		{
			name: "map with integer keys in key order",
			edit: func(m *dynamicpb.Message) {
				mp := m.Mutable(fields.ByName("subs")).Map()
				mp.Set(protoreflect.ValueOfInt64(7).MapKey(), subWith("bad"))
				mp.Set(protoreflect.ValueOfInt64(-3).MapKey(), subWith("also bad"))
				mp.Set(protoreflect.ValueOfInt64(1).MapKey(), subWith(runID))
			},
			want: &FieldError{"subs[-3].x", uuidReason},
		},
		{
			name: "repeated bytes",
			edit: func(m *dynamicpb.Message) {
				l := m.Mutable(fields.ByName("chunks")).List()
				l.Append(protoreflect.ValueOfBytes([]byte("ab")))
				l.Append(protoreflect.ValueOfBytes([]byte("abc")))
			},
			want: &FieldError{"chunks[1]", "must be at most 2 bytes"},
		},
		{
			name: "map key format",
			edit: func(m *dynamicpb.Message) {
				m.Mutable(fields.ByName("files")).Map().Set(protoreflect.ValueOfString("A").MapKey(), protoreflect.ValueOfBytes(nil))
			},
			want: &FieldError{`files["A"]`, "key " + nameReason},
		},
		{
			name: "map bytes value",
			edit: func(m *dynamicpb.Message) {
				m.Mutable(fields.ByName("files")).Map().Set(protoreflect.ValueOfString("a").MapKey(), protoreflect.ValueOfBytes([]byte("abcd")))
			},
			want: &FieldError{`files["a"]`, "must be at most 3 bytes"},
		},
		{name: "misfit rule ignored", edit: func(m *dynamicpb.Message) { m.Set(fields.ByName("misfit"), protoreflect.ValueOfUint32(1000)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := valid()
			tt.edit(m)
			err := Message(m)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Message = %v, want nil", err)
				}
				return
			}
			var got *FieldError
			if !errors.As(err, &got) {
				t.Fatalf("Message = %v, want *FieldError %v", err, tt.want)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Message error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckersCatchProblems shows that the proto-wide checks above can fail:
// they find the gaps planted in the run-time file and in unannotated
// messages.
func TestCheckersCatchProblems(t *testing.T) {
	t.Parallel()
	kinds := kindsFile(t).Messages().ByName("Kinds")
	misfit := misfits(kinds.Fields().ByName("misfit"))
	if diff := cmp.Diff([]string{"max_len does not apply to a fixed32 field"}, misfit); diff != "" {
		t.Errorf("misfits mismatch (-want +got):\n%s", diff)
	}
	run := (&ferryv1.Run{}).ProtoReflect().Descriptor()
	got := unboundedStrings(run, "Run", map[protoreflect.FullName]bool{})
	for _, want := range []string{"Run.id", "Run.tags[]"} {
		if !slices.Contains(got, want) {
			t.Errorf("unboundedStrings(Run) = %s; missing %s", strings.Join(got, ", "), want)
		}
	}
}
