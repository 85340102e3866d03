package validate

import (
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoChecker is the message a protobuf track's frames are.
type protoChecker struct {
	md protoreflect.MessageDescriptor
}

func compileProto(def []byte, name string) (*protoChecker, error) {
	files, err := ProtoFiles(def)
	if err != nil {
		return nil, err
	}
	md, err := FindMessage(files, name)
	if err != nil {
		return nil, err
	}
	return &protoChecker{md: md}, nil
}

// ProtoFiles parses a protobuf schema's definition, a FileDescriptorSet
// (protoc --include_imports --descriptor_set_out).
func ProtoFiles(def []byte) (*protoregistry.Files, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(def, &set); err != nil {
		return nil, fmt.Errorf("the schema is not a FileDescriptorSet: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("the schema's files: %w", err)
	}
	return files, nil
}

// FindMessage is the message a protobuf schema is named after: the schema
// ID's name is the message's full name (pkg.Pose) or its short one (Pose,
// the first such message in the set).
func FindMessage(files *protoregistry.Files, name string) (protoreflect.MessageDescriptor, error) {
	if d, err := files.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
		if md, ok := d.(protoreflect.MessageDescriptor); ok {
			return md, nil
		}
	}
	var found protoreflect.MessageDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		msgs := fd.Messages()
		for i := range msgs.Len() {
			if string(msgs.Get(i).Name()) == name {
				found = msgs.Get(i)
				return false
			}
		}
		return true
	})
	if found == nil {
		return nil, fmt.Errorf("no message %q in the schema", name)
	}
	return found, nil
}

// check decodes frame as the message, keeping unknown fields, and reports
// the first field it does not declare, a declared field sent with another
// wire type (the decoder keeps those as unknown too), or a required field
// missing.
func (pc *protoChecker) check(frame []byte) *Mismatch {
	msg := dynamicpb.NewMessage(pc.md)
	if err := (proto.UnmarshalOptions{RecursionLimit: MaxDepth, AllowPartial: true}).Unmarshal(frame, msg); err != nil {
		return &Mismatch{Reason: fmt.Sprintf("not a valid %s: %v", pc.md.FullName(), err)}
	}
	return walkProto(msg, "")
}

func walkProto(m protoreflect.Message, path string) *Mismatch {
	md := m.Descriptor()
	if u := m.GetUnknown(); len(u) > 0 {
		num, typ, n := protowire.ConsumeTag(u)
		if n < 0 {
			return &Mismatch{Path: path, Reason: "unknown fields that do not parse"}
		}
		if fd := md.Fields().ByNumber(num); fd != nil {
			return &Mismatch{Path: join(path, string(fd.Name())), Reason: fmt.Sprintf("field %d (%s) sent with wire type %s", num, fd.Kind(), wireName(typ))}
		}
		return &Mismatch{Path: join(path, "#"+strconv.Itoa(int(num))), Reason: fmt.Sprintf("field %d is not in %s", num, md.FullName())}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Cardinality() == protoreflect.Required && !m.Has(fd) {
			return &Mismatch{Path: join(path, string(fd.Name())), Reason: "required field not set"}
		}
	}
	var bad *Mismatch
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := join(path, string(fd.Name()))
		switch {
		case fd.IsList() && isMessage(fd):
			l := v.List()
			for i := range l.Len() {
				if bad = walkProto(l.Get(i).Message(), p+"["+strconv.Itoa(i)+"]"); bad != nil {
					return false
				}
			}
		case fd.IsMap() && isMessage(fd.MapValue()):
			v.Map().Range(func(k protoreflect.MapKey, e protoreflect.Value) bool {
				bad = walkProto(e.Message(), p+"["+k.String()+"]")
				return bad == nil
			})
		case !fd.IsList() && !fd.IsMap() && isMessage(fd):
			bad = walkProto(v.Message(), p)
		}
		return bad == nil
	})
	return bad
}

func isMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var wireNames = map[protowire.Type]string{protowire.VarintType: "varint", protowire.Fixed32Type: "fixed32", protowire.Fixed64Type: "fixed64",
	protowire.BytesType: "bytes", protowire.StartGroupType: "start group", protowire.EndGroupType: "end group"}

func wireName(t protowire.Type) string {
	if n, ok := wireNames[t]; ok {
		return n
	}
	return "wire type " + strconv.Itoa(int(t))
}

// maxProtoExampleDepth bounds how deep ProtoExample fills nested messages
// (a message that contains itself stops there, its field left unset).
const maxProtoExampleDepth = 4

// ProtoExample is a populated message of the track's protobuf schema,
// encoded: every field set to a small non-zero value (the first field of
// each oneof; one element of a repeated field, one entry of a map; nested
// messages down to maxProtoExampleDepth), so a subscriber decoding it sees
// every field the schema declares.
func (v *Validator) ProtoExample() ([]byte, error) {
	if v == nil || v.proto == nil {
		return nil, ErrNotProtobuf
	}
	msg := dynamicpb.NewMessage(v.proto.md)
	fillProto(msg, 0)
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoExample, err)
	}
	if m, _ := v.Check(b); m != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoExample, m)
	}
	return b, nil
}

// ErrNotProtobuf: ProtoExample needs a track with a protobuf schema.
var ErrNotProtobuf = errors.New("the track has no protobuf schema to write messages for")

func fillProto(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && o.Fields().Get(0) != fd {
			continue
		}
		switch {
		case fd.IsMap():
			if isMessage(fd.MapValue()) && depth >= maxProtoExampleDepth {
				continue
			}
			mp := m.Mutable(fd).Map()
			val := mp.NewValue()
			if isMessage(fd.MapValue()) {
				fillProto(val.Message(), depth+1)
			} else {
				val = scalarExample(fd.MapValue())
			}
			mp.Set(scalarExample(fd.MapKey()).MapKey(), val)
		case fd.IsList():
			if isMessage(fd) && depth >= maxProtoExampleDepth {
				continue
			}
			l := m.Mutable(fd).List()
			if isMessage(fd) {
				e := l.NewElement()
				fillProto(e.Message(), depth+1)
				l.Append(e)
			} else {
				l.Append(scalarExample(fd))
			}
		case isMessage(fd):
			if depth >= maxProtoExampleDepth {
				continue
			}
			fillProto(m.Mutable(fd).Message(), depth+1)
		default:
			m.Set(fd, scalarExample(fd))
		}
	}
}

// scalarExample is a small non-zero value of fd's kind (an enum's second
// value when it has one: the first is its zero).
func scalarExample(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(min(1, vals.Len()-1)).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(1)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(1)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(1)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(1)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(1.5)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("dttui")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte("dttui"))
	}
	return protoreflect.Value{}
}
