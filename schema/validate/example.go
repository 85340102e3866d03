package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Sentinels for errors.Is on Example's errors.
var (
	// ErrNoExample: the schema is not one a document can be written for
	// here (a pattern, a contradiction, a schema only a person can satisfy).
	ErrNoExample = errors.New("cannot write a document that matches the schema")
	// ErrNotJSONSchema: Example needs a track with a JSON Schema.
	ErrNotJSONSchema = errors.New("the track has no JSON Schema to write documents for")
)

// maxExampleDepth bounds how deep Example follows a schema (a recursive
// schema's minimal instance needs no depth: its recursion is optional).
const maxExampleDepth = 16

// Example is a small JSON value that matches the track's JSON Schema: the
// minimal instance its type, required, properties, enum, const, minimum,
// maximum, multipleOf, minLength, minItems and allOf/anyOf/oneOf/$ref
// call for. An error matching ErrNoExample says the schema needs more
// than that, with the first place the attempt fails.
func (v *Validator) Example() (any, error) {
	if v == nil || v.json == nil {
		return nil, ErrNotJSONSchema
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	jc := v.json
	x, err := jc.example(jc.sch, 0)
	if err != nil {
		return nil, err
	}
	if m := jc.mismatch(jc.sch, x); m != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoExample, m)
	}
	return x, nil
}

// CheckValue checks a decoded JSON value (as encoding/json decodes with
// UseNumber) against the schema, within the same budget as a frame.
func (v *Validator) CheckValue(x any) *Mismatch {
	if v == nil || v.json == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.json.mismatch(v.json.sch, x)
}

// mismatch validates x against s within MaxSteps; past them it answers
// that x does not match (a generator must not rely on such a schema).
func (jc *jsonChecker) mismatch(s *jsonschema.Schema, x any) (m *Mismatch) {
	jc.steps, jc.limit = 0, MaxSteps
	defer func() {
		if r := recover(); r != nil {
			if _, budget := r.(overBudget); !budget {
				panic(r)
			}
			m = &Mismatch{Reason: "the schema takes too long to check"}
		}
	}()
	err := s.Validate(x)
	var verr *jsonschema.ValidationError
	if err == nil || !errors.As(err, &verr) {
		return nil
	}
	return firstLeaf(verr)
}

func (jc *jsonChecker) example(s *jsonschema.Schema, depth int) (any, error) {
	if s == nil {
		return nil, nil
	}
	if depth > maxExampleDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d at %s", ErrNoExample, maxExampleDepth, s.Location)
	}
	if s.Bool != nil {
		if !*s.Bool {
			return nil, fmt.Errorf("%w: %s allows nothing", ErrNoExample, s.Location)
		}
		if depth == 0 {
			return map[string]any{}, nil // anything goes: an object, as elsewhere
		}
		return nil, nil
	}
	if s.Const != nil {
		return *s.Const, nil
	}
	if s.Enum != nil && len(s.Enum.Values) > 0 {
		return s.Enum.Values[0], nil
	}
	// Candidates from the applicators, merged: objects merge their members.
	var parts []any
	add := func(c *jsonschema.Schema) error {
		x, err := jc.example(c, depth+1)
		if err == nil && x != nil {
			parts = append(parts, x)
		}
		return err
	}
	for _, c := range append([]*jsonschema.Schema{s.Ref}, s.AllOf...) {
		if c == nil {
			continue
		}
		if err := add(c); err != nil {
			return nil, err
		}
	}
	for _, alts := range [][]*jsonschema.Schema{s.AnyOf, s.OneOf} {
		if len(alts) == 0 {
			continue
		}
		var err error
		for _, c := range alts {
			var x any
			if x, err = jc.example(c, depth+1); err == nil && jc.mismatch(c, x) == nil {
				if x != nil {
					parts = append(parts, x)
				}
				break
			}
			if err == nil {
				err = fmt.Errorf("%w: no alternative of %s", ErrNoExample, s.Location)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	own, err := jc.ownExample(s, depth, parts)
	if err != nil {
		return nil, err
	}
	if own != nil {
		parts = append(parts, own)
	}
	return merge(parts), nil
}

// merge combines candidates: the objects' members together, else the last.
func merge(parts []any) any {
	if len(parts) == 0 {
		return nil
	}
	if _, ok := parts[0].(map[string]any); !ok {
		return parts[len(parts)-1]
	}
	m := map[string]any{}
	for _, p := range parts {
		if pm, ok := p.(map[string]any); ok {
			for k, v := range pm {
				if _, have := m[k]; !have || v != nil {
					m[k] = v
				}
			}
		} else {
			return p
		}
	}
	return m
}

// ownExample is the value s's own type keywords ask for (nil when they
// ask for nothing in particular and parts already has a value).
func (jc *jsonChecker) ownExample(s *jsonschema.Schema, depth int, parts []any) (any, error) {
	t := pickType(s)
	if t == "" {
		if len(parts) > 0 {
			return nil, nil
		}
		if depth == 0 {
			t = "object"
		} else {
			return nil, nil
		}
	}
	switch t {
	case "object":
		return jc.objectExample(s, depth)
	case "array":
		return jc.arrayExample(s, depth)
	case "string":
		n := 0
		if s.MinLength != nil {
			n = *s.MinLength
		}
		return strings.Repeat("a", min(n, 4096)), nil
	case "integer", "number":
		return numberExample(s, t == "integer")
	case "boolean":
		return false, nil
	}
	return nil, nil
}

// pickType is the type to write for s: an object when it may be one,
// else the first it allows, else what its keywords imply ("" for none).
func pickType(s *jsonschema.Schema) string {
	if s.Types != nil && !s.Types.IsEmpty() {
		ts := s.Types.ToStrings()
		for _, pref := range []string{"object", "integer", "number", "string", "array", "boolean", "null"} {
			if slices.Contains(ts, pref) {
				return pref
			}
		}
		return ts[0]
	}
	switch {
	case s.Properties != nil || len(s.Required) > 0 || s.MinProperties != nil || s.AdditionalProperties != nil:
		return "object"
	case s.Items != nil || s.Items2020 != nil || s.PrefixItems != nil || s.MinItems != nil || s.Contains != nil:
		return "array"
	case s.MinLength != nil || s.MaxLength != nil || s.Pattern != nil:
		return "string"
	case s.Minimum != nil || s.Maximum != nil || s.ExclusiveMinimum != nil || s.ExclusiveMaximum != nil || s.MultipleOf != nil:
		return "number"
	}
	return ""
}

func (jc *jsonChecker) objectExample(s *jsonschema.Schema, depth int) (any, error) {
	m := map[string]any{}
	names := slices.Clone(s.Required)
	if s.MinProperties != nil && len(names) < *s.MinProperties {
		for _, k := range slices.Sorted(mapKeys(s.Properties)) {
			if len(names) >= *s.MinProperties {
				break
			}
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	for _, k := range names {
		ps := s.Properties[k]
		if ps == nil {
			for re, p := range s.PatternProperties {
				if re.MatchString(k) {
					ps = p
					break
				}
			}
		}
		if ps == nil {
			if a, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
				ps = a
			}
		}
		x, err := jc.example(ps, depth+1)
		if err != nil {
			return nil, err
		}
		m[k] = x
	}
	return m, nil
}

func mapKeys(m map[string]*jsonschema.Schema) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (jc *jsonChecker) arrayExample(s *jsonschema.Schema, depth int) (any, error) {
	n := 0
	if s.MinItems != nil {
		n = *s.MinItems
	}
	if s.Contains != nil && n == 0 && (s.MinContains == nil || *s.MinContains > 0) {
		n = 1
	}
	if n > 1024 {
		return nil, fmt.Errorf("%w: %s asks for %d items", ErrNoExample, s.Location, n)
	}
	out := make([]any, 0, n)
	for i := range n {
		var item *jsonschema.Schema
		switch it := s.Items.(type) {
		case *jsonschema.Schema:
			item = it
		case []*jsonschema.Schema:
			if i < len(it) {
				item = it[i]
			} else if a, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
				item = a
			}
		}
		if i < len(s.PrefixItems) {
			item = s.PrefixItems[i]
		} else if s.Items2020 != nil {
			item = s.Items2020
		}
		if i == 0 && s.Contains != nil && item == nil {
			item = s.Contains
		}
		x, err := jc.example(item, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// numberExample is the smallest value the bounds allow (0 when they allow
// it), a multiple of multipleOf when there is one.
func numberExample(s *jsonschema.Schema, integer bool) (any, error) {
	lo, loExcl := s.Minimum, false
	if s.ExclusiveMinimum != nil && (lo == nil || s.ExclusiveMinimum.Cmp(lo) >= 0) {
		lo, loExcl = s.ExclusiveMinimum, true
	}
	hi, hiExcl := s.Maximum, false
	if s.ExclusiveMaximum != nil && (hi == nil || s.ExclusiveMaximum.Cmp(hi) <= 0) {
		hi, hiExcl = s.ExclusiveMaximum, true
	}
	step := big.NewRat(1, 1)
	if s.MultipleOf != nil {
		step = s.MultipleOf
	} else if !integer {
		step = big.NewRat(1, 1000)
	}
	if integer && !step.IsInt() {
		// The whole multiples of a/b (in lowest terms) are those of a.
		step = new(big.Rat).SetInt(step.Num())
	}
	// The first multiple of step at or above lo (above it when exclusive);
	// with no lower bound, 0 if allowed, else the last below hi.
	var x *big.Rat
	switch {
	case lo != nil:
		q := new(big.Rat).Quo(lo, step)
		k := new(big.Int).Quo(q.Num(), q.Denom())
		if new(big.Rat).SetInt(k).Cmp(q) < 0 && q.Sign() > 0 {
			k.Add(k, big.NewInt(1))
		}
		x = new(big.Rat).Mul(new(big.Rat).SetInt(k), step)
		for x.Cmp(lo) < 0 || (loExcl && x.Cmp(lo) == 0) {
			x.Add(x, step)
		}
	case hi != nil && (hi.Sign() < 0 || (hiExcl && hi.Sign() == 0)):
		q := new(big.Rat).Quo(hi, step)
		k := new(big.Int).Quo(q.Num(), q.Denom())
		x = new(big.Rat).Mul(new(big.Rat).SetInt(k), step)
		for x.Cmp(hi) > 0 || (hiExcl && x.Cmp(hi) == 0) {
			x.Sub(x, step)
		}
	default:
		x = new(big.Rat)
	}
	if hi != nil && (x.Cmp(hi) > 0 || (hiExcl && x.Cmp(hi) == 0)) {
		return nil, fmt.Errorf("%w: no %s between the bounds of %s", ErrNoExample, map[bool]string{true: "integer", false: "number"}[integer], s.Location)
	}
	if x.IsInt() {
		return json.Number(x.Num().String()), nil
	}
	return json.Number(strings.TrimRight(x.FloatString(12), "0")), nil
}
