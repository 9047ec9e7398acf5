package validate

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// ferryFiles returns the files of package ferry.v1, loaded by importing
// ferryv1.
func ferryFiles(t *testing.T) []protoreflect.FileDescriptor {
	t.Helper()
	_ = ferryv1.File_ferry_v1_options_proto
	var files []protoreflect.FileDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("ferry.v1", func(fd protoreflect.FileDescriptor) bool {
		files = append(files, fd)
		return true
	})
	if len(files) == 0 {
		t.Fatal("no files registered for package ferry.v1")
	}
	return files
}

// TestRequestStringsAreBounded checks that every string in every request,
// however deeply nested, declares its own bound, so that no request string
// relies on the default cap by accident.
func TestRequestStringsAreBounded(t *testing.T) {
	t.Parallel()
	var problems []string
	methods := 0
	for _, file := range ferryFiles(t) {
		services := file.Services()
		for i := range services.Len() {
			ms := services.Get(i).Methods()
			for j := range ms.Len() {
				methods++
				in := ms.Get(j).Input()
				problems = append(problems, unboundedStrings(in, string(in.Name()), map[protoreflect.FullName]bool{})...)
			}
		}
	}
	if methods == 0 {
		t.Fatal("found no service methods")
	}
	for _, p := range problems {
		t.Errorf("request string without max_len or format: %s", p)
	}
}

// unboundedStrings lists the string fields under md without a declared bound.
func unboundedStrings(md protoreflect.MessageDescriptor, at string, seen map[protoreflect.FullName]bool) []string {
	if seen[md.FullName()] {
		return nil
	}
	seen[md.FullName()] = true
	var out []string
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		fr := ruleOf(fd)
		where := at + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			key, val := fd.MapKey(), fd.MapValue()
			itemBound := fr.GetItemMaxLen() > 0
			if key.Kind() == protoreflect.StringKind && !itemBound && fr.GetItemFormat() == ferryv1.Format_FORMAT_UNSPECIFIED {
				out = append(out, where+" (map key)")
			}
			if val.Kind() == protoreflect.StringKind && !itemBound {
				out = append(out, where+" (map value)")
			}
			if val.Kind() == protoreflect.MessageKind {
				out = append(out, unboundedStrings(val.Message(), where+"[]", seen)...)
			}
		case fd.Kind() == protoreflect.StringKind && fd.IsList():
			if fr.GetItemMaxLen() == 0 && fr.GetItemFormat() == ferryv1.Format_FORMAT_UNSPECIFIED {
				out = append(out, where+"[]")
			}
		case fd.Kind() == protoreflect.StringKind:
			if fr.GetMaxLen() == 0 && fr.GetFormat() == ferryv1.Format_FORMAT_UNSPECIFIED {
				out = append(out, where)
			}
		case fd.Kind() == protoreflect.MessageKind:
			out = append(out, unboundedStrings(fd.Message(), where, seen)...)
		}
	}
	return out
}

// TestRulesFitTheirFields checks that each declared rule is one the
// validator applies to that kind of field, so that no rule in the proto is
// silently ignored.
func TestRulesFitTheirFields(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, file := range ferryFiles(t) {
		forEachMessage(file.Messages(), func(md protoreflect.MessageDescriptor) {
			fields := md.Fields()
			for i := range fields.Len() {
				fd := fields.Get(i)
				for _, p := range misfits(fd) {
					t.Errorf("%s: %s", fd.FullName(), p)
				}
				checked++
			}
		})
	}
	if checked == 0 {
		t.Fatal("found no fields")
	}
}

func forEachMessage(mds protoreflect.MessageDescriptors, fn func(protoreflect.MessageDescriptor)) {
	for i := range mds.Len() {
		md := mds.Get(i)
		if md.IsMapEntry() {
			continue
		}
		fn(md)
		forEachMessage(md.Messages(), fn)
	}
}

// misfits lists the rules of fd that do not apply to its kind.
func misfits(fd protoreflect.FieldDescriptor) []string {
	fr := ruleOf(fd)
	collection := fd.IsList() || fd.IsMap()
	singularString := !collection && (fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BytesKind)
	valueKind := kindOf(fd)
	if fd.IsMap() {
		valueKind = kindOf(fd.MapValue())
	}
	stringItems := (fd.IsList() && fd.Kind() == protoreflect.StringKind) ||
		(fd.IsMap() && (fd.MapKey().Kind() == protoreflect.StringKind || fd.MapValue().Kind() == protoreflect.StringKind))
	integer := valueKind == kindInt || valueKind == kindUint

	var out []string
	add := func(ok bool, rule string) {
		if !ok {
			out = append(out, fmt.Sprintf("%s does not apply to a %s field", rule, describeField(fd)))
		}
	}
	if fr.GetMaxLen() > 0 {
		add(singularString, "max_len")
	}
	if fr.GetFormat() != ferryv1.Format_FORMAT_UNSPECIFIED {
		add(singularString && fd.Kind() == protoreflect.StringKind, "format")
	}
	if fr.GetMaxItems() > 0 {
		add(collection, "max_items")
	}
	if fr.GetItemMaxLen() > 0 {
		add(stringItems, "item_max_len")
	}
	if fr.GetItemFormat() != ferryv1.Format_FORMAT_UNSPECIFIED {
		add((fd.IsList() && fd.Kind() == protoreflect.StringKind) ||
			(fd.IsMap() && fd.MapKey().Kind() == protoreflect.StringKind), "item_format")
	}
	if fr.Min != nil {
		add(integer, "min")
	}
	if fr.Max != nil {
		add(integer, "max")
	}
	if fr.Min != nil && fr.Max != nil && fr.GetMin() > fr.GetMax() {
		out = append(out, "min is greater than max")
	}
	return out
}

func describeField(fd protoreflect.FieldDescriptor) string {
	var b strings.Builder
	switch {
	case fd.IsMap():
		b.WriteString("map ")
	case fd.IsList():
		b.WriteString("repeated ")
	}
	b.WriteString(fd.Kind().String())
	return b.String()
}
