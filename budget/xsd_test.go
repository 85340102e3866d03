package budget

import (
	"bytes"
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
func xsdRules(t *testing.T, path string) (elements map[string]string, types map[string]*schemaType) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root node
	if err := xml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
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
			t.Fatalf("schema: element %s has type %s, not read", name, elements[name])
		}
	}
	return elements, types
}

// validateXSD checks doc against the schema's rules; nil when it passes.
func validateXSD(t *testing.T, xsd string, doc []byte) error {
	elements, types := xsdRules(t, xsd)
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

// ValidateJUnit checks a JUnit file against testdata/junit.xsd: with
// xmllint when it is installed (.ci/run installs libxml2-utils), and
// always with the schema's rules read in Go.
func ValidateJUnit(t *testing.T, xsd string, doc []byte) {
	t.Helper()
	if err := validateXSD(t, xsd, doc); err != nil {
		t.Fatalf("JUnit XML against %s: %v\n%s", xsd, err, doc)
	}
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Logf("xmllint not installed: the JUnit file was checked by the Go reading of the schema only")
		return
	}
	f := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(lint, "--noout", "--schema", xsd, f).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s\n%s", err, out, doc)
	}
}

// The Go reading of the schema says no where xmllint does.
func TestSchemaCheckRefuses(t *testing.T) {
	xsd := filepath.Join("testdata", "junit.xsd")
	good := []byte(`<testsuites name="n"><testsuite name="s" tests="1" failures="0" errors="0" time="1,234.5"><testcase name="c"><failure type="x">why</failure><system-out>out</system-out></testcase></testsuite></testsuites>`)
	if err := validateXSD(t, xsd, good); err != nil {
		t.Fatalf("a valid file: %v", err)
	}
	for _, bad := range []string{
		`<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase/></testsuite></testsuites>`,                             // no name
		`<testsuites><testsuite name="s" tests="1" failures="0"><testcase name="c"/></testsuite></testsuites>`,                               // no errors
		`<testsuites><testsuite name="s" tests="1" failures="0" errors="0" time="1.2s"/></testsuites>`,                                       // time with a unit
		`<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="c" result="ok"/></testsuite></testsuites>`,        // unknown attribute
		`<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="c"><output/></testcase></testsuite></testsuites>`, // unknown element
		`<testsuite name="s" tests="1" failures="0" errors="0">text</testsuite>`,                                                             // text
		`<report/>`,
	} {
		if err := validateXSD(t, xsd, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
		if lint, err := exec.LookPath("xmllint"); err == nil {
			f := filepath.Join(t.TempDir(), "bad.xml")
			os.WriteFile(f, []byte(bad), 0o600)
			if out, err := exec.Command(lint, "--noout", "--schema", xsd, f).CombinedOutput(); err == nil {
				t.Errorf("xmllint accepted %s: %s", bad, bytes.TrimSpace(out))
			}
		}
	}
}
