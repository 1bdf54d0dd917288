package profile

import (
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
)

func TestValueSetExpansion(t *testing.T) {
	reg, err := packages.LoadWithOptions(packages.LoadOptions{NoCache: true}, "testdata/terminology")
	if err != nil {
		t.Fatal(err)
	}
	terms := newTerminology(reg)
	const shapes = "http://example.org/cs/shapes"
	tests := []struct {
		vs, system, code string
		in, known        bool
	}{
		{"http://example.org/vs/all-shapes", shapes, "square", true, true},
		{"http://example.org/vs/all-shapes", shapes, "hexagon", false, true},
		{"http://example.org/vs/all-shapes", "http://example.org/other", "square", false, true},
		{"http://example.org/vs/polygons", shapes, "polygon", true, true},
		{"http://example.org/vs/polygons", shapes, "triangle", true, true},
		{"http://example.org/vs/polygons", shapes, "circle", false, true},
		{"http://example.org/vs/strict-polygons", shapes, "polygon", false, true},
		{"http://example.org/vs/strict-polygons", shapes, "square", true, true},
		{"http://example.org/vs/four-sides", shapes, "square", true, true},
		{"http://example.org/vs/four-sides", shapes, "triangle", false, true},
		{"http://example.org/vs/no-circles", shapes, "circle", false, true},
		{"http://example.org/vs/no-circles", shapes, "line", true, true},
		// LOINC is included whole but not loaded: accepted by system
		{"http://example.org/vs/mixed|2.0", "http://loinc.org", "1234-5", true, true},
		{"http://example.org/vs/mixed", shapes, "line", true, true},
		{"http://example.org/vs/mixed", shapes, "square", false, true},
		{"http://example.org/vs/expanded", "http://example.org/x", "q", true, true},
		{"http://example.org/vs/expanded", "http://example.org/x", "r", false, true},
		// cannot be decided
		{"http://example.org/vs/regex", shapes, "square", false, false},
		{"http://example.org/vs/cycle-a", shapes, "square", false, false},
		{"http://example.org/vs/fragment", "http://example.org/cs/fragment", "a", true, true},
		{"http://example.org/vs/not-loaded", shapes, "square", false, false},
	}
	for _, tc := range tests {
		in, known := terms.valueSet(tc.vs).hasCoding(tc.system, tc.code)
		if in != tc.in || known != tc.known {
			t.Errorf("%s has %s#%s = %v, %v; want %v, %v (%s)", tc.vs, tc.system, tc.code, in, known, tc.in, tc.known, terms.valueSet(tc.vs).why())
		}
	}
	// bare codes (elements of type code)
	if in, known := terms.valueSet("http://example.org/vs/polygons").hasCode("square"); !in || !known {
		t.Errorf("bare code square: %v %v", in, known)
	}
	if _, known := terms.valueSet("http://example.org/vs/mixed").hasCode("1234-5"); known {
		t.Error("a bare code against a value set including all of LOINC cannot be decided")
	}
	for vs, want := range map[string]string{
		"http://example.org/vs/regex":      "not supported",
		"http://example.org/vs/cycle-a":    "cycle",
		"http://example.org/vs/not-loaded": "not loaded",
		"http://example.org/vs/mixed":      "http://loinc.org",
	} {
		if got := terms.valueSet(vs).why(); !strings.Contains(got, want) {
			t.Errorf("%s: why() = %q, want it to mention %q", vs, got, want)
		}
	}
}
