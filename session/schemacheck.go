package session

import (
	"sync"

	"github.com/dttui/dttui/incoming"
	"github.com/dttui/dttui/report"
	"github.com/dttui/dttui/schema"
	"github.com/dttui/dttui/schema/validate"
)

// The room monitor checks every completed frame of a typed track against
// the schema the track declares, once its definition is fetched (compiled
// once per schema, on the goroutine that fetched it), and counts the
// frames that do not match.

// remoteChecks is, per remote track (by SID), its frames' schema account.
type remoteChecks struct {
	mu sync.Mutex
	by map[string]*remoteCheck
}

type remoteCheck struct {
	// encoding is set when the track's encodings cannot be checked at all.
	encoding bool
	v        *validate.Validator // nil until the schema is known
	acc      report.SchemaCheck
}

// naturalDecl is the declaration a schema's frames have when its encoding
// is one validate checks: the schema is compiled once for every track
// that declares it (a track of another frame encoding is not checked).
func naturalDecl(id schema.ID) schema.Decl {
	d := schema.Decl{Schema: id}
	switch id.Encoding.WellKnown {
	case schema.EncodingJSONSchema:
		d.Frame.WellKnown = schema.FrameJSON
	case schema.EncodingProtobuf:
		d.Frame.WellKnown = schema.FrameProtobuf
	}
	return d
}

// compileRemote compiles a fetched schema; a schema that does not compile
// gives a Validator that says so.
func compileRemote(id schema.ID, def []byte) *validate.Validator {
	v, _ := validate.New(naturalDecl(id), def)
	return v
}

// checkRemote checks one completed frame of a remote track. It runs from the
// monitor's OnFrame (incoming's manager locked); its cost is the
// validator's, bounded per frame.
func (s *Session) checkRemote(info incoming.Info, payload []byte) {
	c := &s.checks
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.by[info.SID]
	if e == nil {
		if c.by == nil {
			c.by = map[string]*remoteCheck{}
		}
		// Without a definition, New says whether the encoding is one
		// that is checked at all.
		none, _ := validate.New(info.Type, nil)
		e = &remoteCheck{encoding: none.Unchecked() == validate.UncheckedEncoding}
		e.acc.Unchecked = none.Unchecked()
		c.by[info.SID] = e
	}
	if e.v == nil && !e.encoding && !info.Type.Schema.IsZero() {
		if rs, ok := s.schemaFor(info.PublisherIdentity, info.Type.Schema); ok {
			e.v = rs.check
			if e.v == nil { // not fetched (the report's SchemaErr says why): no schema to check with
				e.v, _ = validate.New(info.Type, nil)
			}
		}
	}
	m, u := e.v.Check(payload)
	if e.v != nil && u != validate.UncheckedTooLarge {
		e.acc.Unchecked = u
	}
	if e.encoding {
		e.acc.Unchecked = validate.UncheckedEncoding
	}
	if u != validate.Checked {
		e.acc.NotChecked++
		return
	}
	e.acc.Checked++
	if m != nil {
		e.acc.Mismatches++
		if e.acc.First == nil {
			e.acc.First = m
		}
	}
}

// of is sid's account.
func (c *remoteChecks) of(sid string) report.SchemaCheck {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.by[sid]; e != nil {
		return e.acc
	}
	return report.SchemaCheck{Unchecked: validate.UncheckedNoSchema}
}

func (c *remoteChecks) forget(sid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.by, sid)
}
