package stage

import (
	"reflect"
	"strings"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// FieldDeclarer is implemented by stage types that declare every key their
// stages may have besides the keys every stage has (refId, name, …), so
// that validation warns about the others: a misspelled key, most often. A
// type whose fields are a Spec declares the Spec's keys:
//
//	func (Type) KnownFields() *pipeline.KnownFields { return stage.KnownFields(&Spec{}) }
//
// A type that keeps Spinnaker keys without acting on them adds them to
// Ignored, each with what Sluice does instead.
type FieldDeclarer interface {
	KnownFields() *pipeline.KnownFields
}

// KnownFields returns the keys spec reads, from its json tags as Decode
// reads them: a nested object's keys under its own key, and a list of
// objects' keys under the list's key. The values of other fields are not
// looked into.
func KnownFields(spec Spec) *pipeline.KnownFields {
	t := reflect.TypeOf(spec)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		panic("stage: a Spec must be a pointer to a struct, not " + t.String())
	}
	return objectFields(t.Elem())
}

var (
	fieldTypeType = reflect.TypeFor[FieldType]()
	listerType    = reflect.TypeFor[lister]()
)

func objectFields(st reflect.Type) *pipeline.KnownFields {
	k := &pipeline.KnownFields{Keys: map[string]*pipeline.KnownFields{}}
	addObjectFields(k, st)
	return k
}

// addObjectFields adds the keys of struct st to k, walking it as
// decoder.object does.
func addObjectFields(k *pipeline.KnownFields, st reflect.Type) {
	for i := range st.NumField() {
		sf := st.Field(i)
		tag, tagged := sf.Tag.Lookup("json")
		key, _, _ := strings.Cut(tag, ",")
		switch {
		case sf.Type == fieldType:
		case sf.Anonymous && !tagged && sf.Type.Kind() == reflect.Struct:
			addObjectFields(k, sf.Type)
		case !sf.IsExported() || key == "" || key == "-":
		default:
			k.Keys[key] = valueFields(sf.Type)
		}
	}
}

// valueFields is what is known of the keys of a field's value: nil for a
// field type, which takes any value it can decode.
func valueFields(t reflect.Type) *pipeline.KnownFields {
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(fieldTypeType):
		return nil
	case pt.Implements(listerType):
		items, _ := t.FieldByName("Items")
		return valueFields(items.Type.Elem())
	case t.Kind() == reflect.Struct:
		return objectFields(t)
	}
	return nil
}
