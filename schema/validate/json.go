package validate

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// jsonChecker is a compiled JSON Schema and the step count of the frame
// being checked (guarded by the Validator's lock).
type jsonChecker struct {
	sch          *jsonschema.Schema
	steps, limit int
}

// errNoLoad: a schema refers outside itself; nothing is loaded (a file
// path or URL in another participant's schema must not be read).
var errNoLoad = errors.New("refers to another document; only references within the schema are followed")

type noLoader struct{}

func (noLoader) Load(url string) (any, error) { return nil, fmt.Errorf("%s: %w", url, errNoLoad) }

// overBudget is the panic that stops a validation past MaxSteps: the
// library offers no other way out of a walk, and the panic never leaves
// check.
type overBudget struct{}

const schemaURL = "urn:dttui:schema"

func compileJSON(def []byte) (*jsonChecker, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(def))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, err
	}
	jc := &jsonChecker{sch: sch}
	jc.count(sch, map[*jsonschema.Schema]bool{})
	return jc, nil
}

// count makes every subschema reachable from s count one step each time
// it is evaluated, before it evaluates its own subschemas: the library
// checks a subschema's format before anything else that recurses, so a
// format that counts (and calls the real one, if any) sees every
// evaluation.
func (jc *jsonChecker) count(s *jsonschema.Schema, seen map[*jsonschema.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	// An evaluation at an object or array also costs its members: the
	// library keeps a set of them per evaluation (for unevaluated*), so
	// a schema that evaluates a large array many times costs that much.
	// One at a long string costs a step per 16 bytes: its subschemas
	// compare it (enum, const) and match it (pattern) before they count.
	step := func(v any) {
		jc.steps++
		switch x := v.(type) {
		case []any:
			jc.steps += len(x)
		case map[string]any:
			jc.steps += len(x)
		case string:
			jc.steps += len(x) / 16
		}
		if jc.steps > jc.limit {
			panic(overBudget{})
		}
	}
	if f := s.Format; f != nil {
		inner := f.Validate
		s.Format = &jsonschema.Format{Name: f.Name, Validate: func(v any) error { step(v); return inner(v) }}
	} else {
		s.Format = &jsonschema.Format{Name: "dttui-step", Validate: func(v any) error { step(v); return nil }}
	}
	for _, c := range children(s) {
		jc.count(c, seen)
	}
}

// children lists s's subschemas, every keyword's.
func children(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else, s.PropertyNames, s.UnevaluatedProperties,
		s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	out = append(out, s.PrefixItems...)
	for _, c := range s.Properties {
		out = append(out, c)
	}
	for _, c := range s.PatternProperties {
		out = append(out, c)
	}
	for _, c := range s.DependentSchemas {
		out = append(out, c)
	}
	for _, d := range s.Dependencies {
		if c, ok := d.(*jsonschema.Schema); ok {
			out = append(out, c)
		}
	}
	for _, a := range []any{s.AdditionalProperties, s.AdditionalItems, s.Items} {
		switch c := a.(type) {
		case *jsonschema.Schema:
			out = append(out, c)
		case []*jsonschema.Schema:
			out = append(out, c...)
		}
	}
	return out
}

var printer = message.NewPrinter(language.English)

// check validates one document; ok is false when it took more than
// limit steps.
func (jc *jsonChecker) check(frame []byte, limit int) (m *Mismatch, ok bool) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(frame))
	if err != nil {
		return &Mismatch{Reason: "not JSON: " + err.Error()}, true
	}
	jc.steps, jc.limit = 0, limit
	defer func() {
		if r := recover(); r != nil {
			if _, budget := r.(overBudget); !budget {
				panic(r)
			}
			m, ok = nil, false
		}
	}()
	err = jc.sch.Validate(doc)
	var verr *jsonschema.ValidationError
	if err == nil || !errors.As(err, &verr) {
		return nil, true
	}
	return firstLeaf(verr), true
}

// firstLeaf is the first cause that has no causes of its own: the first
// keyword that failed, where it failed.
func firstLeaf(e *jsonschema.ValidationError) *Mismatch {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	path := e.InstanceLocation
	if r, ok := e.ErrorKind.(*kind.Required); ok && len(r.Missing) > 0 {
		path = append(path[:len(path):len(path)], r.Missing[0])
	}
	return &Mismatch{Path: pointer(path), Reason: e.ErrorKind.LocalizedString(printer)}
}
