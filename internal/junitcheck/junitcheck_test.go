package junitcheck

import "testing"

// The Go reading of the schema says no where xmllint does.
func TestSchemaCheckRefuses(t *testing.T) {
	good := []byte(`<testsuites name="n"><testsuite name="s" tests="1" failures="0" errors="0" time="1,234.5"><testcase name="c"><failure type="x">why</failure><system-out>out</system-out></testcase></testsuite></testsuites>`)
	if err := Check(good); err != nil {
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
		if err := Check([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
		if ok, err := Lint(t.TempDir(), []byte(bad)); ok && err == nil {
			t.Errorf("xmllint accepted %s", bad)
		}
	}
}

// The schema itself is one xmllint reads.
func TestLintAcceptsAValidFile(t *testing.T) {
	ok, err := Lint(t.TempDir(), []byte(`<testsuites><testsuite name="s" tests="0" failures="0" errors="0"/></testsuites>`))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("xmllint not installed")
	}
}
