package catalog

import (
	"regexp"
	"slices"
	"testing"
)

func TestCatalogIsWellFormed(t *testing.T) {
	id := regexp.MustCompile(`^PA-[A-Z]+-\d{2}$`)
	seen := map[string]bool{}
	for _, r := range All() {
		if !id.MatchString(r.ID) {
			t.Errorf("%s: malformed ID", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("%s: duplicate ID", r.ID)
		}
		seen[r.ID] = true
		if r.Level != SHALL && r.Level != SHOULD && r.Level != MAY {
			t.Errorf("%s: level %q", r.ID, r.Level)
		}
		if !slices.Contains(Areas, r.Area) {
			t.Errorf("%s: area %q is not in Areas", r.ID, r.Area)
		}
		if r.Source == "" || r.Text == "" {
			t.Errorf("%s: source and text are required", r.ID)
		}
	}
	if _, ok := Lookup("PA-EXP-01"); !ok {
		t.Error("Lookup(PA-EXP-01) failed")
	}
	if len(ForEdition("2.0.0")) != len(All()) {
		t.Error("every requirement applies to 2.0.0")
	}
}
