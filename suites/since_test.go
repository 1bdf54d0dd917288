package suites

import (
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func exportAt(times ...string) *framework.Export {
	x := &framework.Export{Resources: map[string]framework.Resource{}}
	for i, s := range times {
		t, _ := time.Parse(time.RFC3339Nano, s)
		x.Resources[framework.Key("Observation", string(rune('a'+i)))] = framework.Resource{Type: "Observation", LastUpdated: t}
	}
	return x
}

// TestBoundary: the boundary lies strictly between two distinct values at
// least two seconds apart, at a whole second, nearest the median; data
// without such a gap has none.
func TestBoundary(t *testing.T) {
	tests := []struct {
		name  string
		times []string
		want  string // "" for none
	}{
		{"the median gap", []string{"2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"}, "2024-01-01T00:00:01Z"},
		{"fractions of a second", []string{"2024-01-01T10:00:00.300Z", "2024-01-01T10:00:02.900Z"}, "2024-01-01T10:00:01Z"},
		{"one value", []string{"2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"}, ""},
		{"values too close", []string{"2024-01-01T00:00:00Z", "2024-01-01T00:00:01.500Z"}, ""},
		{"a wide gap away from the median", []string{"2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", "2024-01-01T00:00:01Z", "2024-03-01T00:00:00Z"}, "2024-01-01T00:00:02Z"},
		{"no lastUpdated at all", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := boundary(exportAt(tt.times...))
			switch {
			case tt.want == "" && ok:
				t.Errorf("boundary = %s, want none", got)
			case tt.want != "" && (!ok || got.Format(time.RFC3339Nano) != tt.want):
				t.Errorf("boundary = %s, %v; want %s", got.Format(time.RFC3339Nano), ok, tt.want)
			}
		})
	}
}

func TestReferenceKey(t *testing.T) {
	for ref, want := range map[string]string{
		"Practitioner/p1":                    "Practitioner/p1",
		"https://x/fhir/Organization/o1":     "Organization/o1",
		"Encounter/e1/_history/2":            "Encounter/e1",
		"#contained":                         "",
		"urn:uuid:0b1c2d3e":                  "",
		"http://hl7.org/fhir/ValueSet/x|1.0": "ValueSet/x|1.0",
	} {
		got, ok := referenceKey(ref)
		if got != want || ok != (want != "") {
			t.Errorf("referenceKey(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
}

// TestAddedAfter: a member joined after t when their period starts on t's
// day or later; with no start, when the Group itself changed after t (and
// then the Group does not say, so it is only a guess).
func TestAddedAfter(t *testing.T) {
	since := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	g := &framework.Group{
		Members:     []string{"old", "sameday", "new", "unknown"},
		Starts:      map[string]string{"old": "2024-01-01", "sameday": "2025-03-10", "new": "2025-04-01T00:00:00Z"},
		LastUpdated: since.Add(time.Hour),
	}
	added, unknown := addedAfter(g, since)
	for m, want := range map[string]bool{"old": false, "sameday": true, "new": true, "unknown": true} {
		if added[m] != want {
			t.Errorf("added[%s] = %v, want %v", m, added[m], want)
		}
	}
	if !unknown["unknown"] || unknown["new"] {
		t.Errorf("unknown = %v, want only the member without a start", unknown)
	}
	g.LastUpdated = since.Add(-time.Hour) // the Group has not changed since
	if added, _ := addedAfter(g, since); added["unknown"] {
		t.Error("a member of a Group unchanged since t was taken as added after t")
	}
}
