// Package junitcheck checks a JUnit XML file against the JUnit schema CI
// systems read (junit.xsd here: the elements, attributes and time format
// of the Jenkins xunit plugin's junit-10.xsd, Maven Surefire's format):
// with xmllint when it is installed, and always with the schema's own
// rules read in Go, so the check holds where xmllint is missing. For
// tests only.
package junitcheck

import (
	_ "embed"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// node is an XML element, whole.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n *node) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// schemaType is what an XSD allows of an element: its attributes (name →
// required, pattern or nil), its children (by element name), and text.
type schemaType struct {
	attrs    map[string]attrRule
	children map[string]string // child name → its type key
	text     bool
}

type attrRule struct {
	required bool
	pattern  *regexp.Regexp
}

// xsdRules reads the subset of XML Schema the JUnit schema is written in
// (global elements and named types, sequences and choices of element
// references, attributes with use and a pattern restriction): enough to
// check a document against it without a schema library. Order and
// occurrence bounds are not checked: every content model in the file is
// an unbounded choice, or a sequence of one element.
func xsdRules() (elements map[string]string, types map[string]*schemaType, err error) {
	var root node
	if err := xml.Unmarshal(Schema, &root); err != nil {
		return nil, nil, err
	}
	patterns := map[string]*regexp.Regexp{}
	elements, types = map[string]string{}, map[string]*schemaType{"xs:string": {text: true}}
	var complexType func(key string, n *node) string
	complexType = func(key string, n *node) string {
		st := &schemaType{attrs: map[string]attrRule{}, children: map[string]string{}}
		if v, _ := n.attr("mixed"); v == "true" {
			st.text = true
		}
		types[key] = st
		var walk func(n *node)
		walk = func(n *node) {
			for i := range n.Children {
				c := &n.Children[i]
				switch c.XMLName.Local {
				case "sequence", "choice":
					walk(c)
				case "element":
					if ref, ok := c.attr("ref"); ok {
						st.children[ref] = "element:" + ref
						continue
					}
					name, _ := c.attr("name")
					typ, _ := c.attr("type")
					st.children[name] = typ
				case "attribute":
					name, _ := c.attr("name")
					use, _ := c.attr("use")
					typ, _ := c.attr("type")
					st.attrs[name] = attrRule{required: use == "required", pattern: patterns[typ]}
				}
			}
		}
		walk(n)
		return key
	}
	for i := range root.Children {
		c := &root.Children[i]
		name, _ := c.attr("name")
		switch c.XMLName.Local {
		case "simpleType":
			for _, r := range c.Children {
				for _, p := range r.Children {
					if v, ok := p.attr("value"); ok && p.XMLName.Local == "pattern" {
						patterns[name] = regexp.MustCompile("^(?:" + v + ")$")
					}
				}
			}
		case "complexType":
			complexType(name, c)
		}
	}
	for i := range root.Children {
		c := &root.Children[i]
		if c.XMLName.Local != "element" {
			continue
		}
		name, _ := c.attr("name")
		if typ, ok := c.attr("type"); ok {
			elements[name] = typ
			continue
		}
		elements[name] = complexType("element:"+name, &c.Children[0])
	}
	for name := range elements {
		if types[elements[name]] == nil {
			return nil, nil, fmt.Errorf("schema: element %s has type %s, not read", name, elements[name])
		}
	}
	return elements, types, nil
}

// Check checks doc against the schema's rules read in Go; nil when it
// passes.
func Check(doc []byte) error {
	elements, types, err := xsdRules()
	if err != nil {
		return err
	}
	var root node
	if err := xml.Unmarshal(doc, &root); err != nil {
		return err
	}
	var check func(n *node, typeKey, path string) error
	check = func(n *node, typeKey, path string) error {
		path += "/" + n.XMLName.Local
		st := types[typeKey]
		if st == nil {
			return fmt.Errorf("%s: no type %s", path, typeKey)
		}
		for _, a := range n.Attrs {
			r, ok := st.attrs[a.Name.Local]
			if !ok || a.Name.Space != "" {
				return fmt.Errorf("%s: attribute %s not in the schema", path, a.Name.Local)
			}
			if r.pattern != nil && !r.pattern.MatchString(a.Value) {
				return fmt.Errorf("%s: attribute %s=%q does not match %s", path, a.Name.Local, a.Value, r.pattern)
			}
		}
		for name, r := range st.attrs {
			if _, ok := n.attr(name); r.required && !ok {
				return fmt.Errorf("%s: attribute %s is required", path, name)
			}
		}
		if !st.text && strings.TrimSpace(n.Text) != "" {
			return fmt.Errorf("%s: text where the schema allows none", path)
		}
		for i := range n.Children {
			c := &n.Children[i]
			key, ok := st.children[c.XMLName.Local]
			if !ok {
				return fmt.Errorf("%s: element %s not allowed here", path, c.XMLName.Local)
			}
			if ref, isRef := strings.CutPrefix(key, "element:"); isRef {
				key = elements[ref]
			}
			if err := check(c, key, path); err != nil {
				return err
			}
		}
		return nil
	}
	key, ok := elements[root.XMLName.Local]
	if !ok {
		return fmt.Errorf("root element %s is not in the schema", root.XMLName.Local)
	}
	return check(&root, key, "")
}

// Schema is junit.xsd.
//
//go:embed junit.xsd
var Schema []byte

// Lint checks doc with xmllint against Schema: ok false when xmllint is
// not installed.
func Lint(dir string, doc []byte) (ok bool, err error) {
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		return false, nil
	}
	xsd, f := filepath.Join(dir, "junit.xsd"), filepath.Join(dir, "junit.xml")
	if err := os.WriteFile(xsd, Schema, 0o600); err != nil {
		return false, err
	}
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		return false, err
	}
	if out, err := exec.Command(lint, "--noout", "--schema", xsd, f).CombinedOutput(); err != nil {
		return true, fmt.Errorf("xmllint: %v: %s", err, out)
	}
	return true, nil
}

// Validate fails tb unless doc passes the schema: read in Go, and with
// xmllint when it is installed (.ci/run installs libxml2-utils).
func Validate(tb testing.TB, doc []byte) {
	tb.Helper()
	if err := Check(doc); err != nil {
		tb.Fatalf("JUnit XML against the schema: %v\n%s", err, doc)
	}
	ok, err := Lint(tb.TempDir(), doc)
	if err != nil {
		tb.Fatalf("%v\n%s", err, doc)
	}
	if !ok {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("xmllint not installed (%s=1): install libxml2-utils", RequireEnv)
		}
		tb.Logf("xmllint not installed: the JUnit file was checked by the Go reading of the schema only")
	}
}

// RequireEnv, set to 1, turns a missing xmllint from a note into a
// failure. .ci/run sets it, so CI always checks with a real validator.
const RequireEnv = "DTTUI_REQUIRE_XMLLINT"
