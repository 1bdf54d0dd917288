package catalog

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/edition"
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
		for _, ed := range r.Editions {
			if _, err := edition.Lookup(ed); err != nil {
				t.Errorf("%s: %v", r.ID, err)
			}
		}
		for ed, v := range r.In {
			if _, err := edition.Lookup(ed); err != nil {
				t.Errorf("%s: In: %v", r.ID, err)
			}
			if v.Level != "" && v.Level != SHALL && v.Level != SHOULD && v.Level != MAY {
				t.Errorf("%s: level %q in %s", r.ID, v.Level, ed)
			}
			if !r.AppliesTo(ed) {
				t.Errorf("%s: In names %s, where the requirement does not apply", r.ID, ed)
			}
		}
	}
	for _, ed := range edition.Names() {
		if len(ForEdition(ed)) == 0 {
			t.Errorf("edition %s has no requirement", ed)
		}
	}
	if _, ok := Lookup("PA-EXP-01"); !ok {
		t.Error("Lookup(PA-EXP-01) failed")
	}
}

func TestRequirementFor(t *testing.T) {
	r := Requirement{ID: "PA-X-01", Level: SHALL, Source: "s", Text: "t", Editions: []string{"2.0.0", "2.1.0"},
		In: map[string]Variant{"2.1.0": {Level: SHOULD, Text: "t2"}}}
	for _, tc := range []struct {
		edition   string
		applies   bool
		level     Level
		text, src string
	}{
		{"2.0.0", true, SHALL, "t", "s"},
		{"2.1.0", true, SHOULD, "t2", "s"},
		{"2.2.0", false, SHALL, "t", "s"},
	} {
		got, ok := r.For(tc.edition)
		if ok != tc.applies || got.Level != tc.level || got.Text != tc.text || got.Source != tc.src {
			t.Errorf("For(%s) = %+v, %v", tc.edition, got, ok)
		}
	}
}

func TestEditionReadings(t *testing.T) {
	tests := []struct {
		id, edition string
		applies     bool
		level       Level
		textHas     string
	}{
		{"PA-FIN-02", "2.0.0", true, SHALL, "NonFinancial"},
		{"PA-FIN-02", "2.1.0", true, SHOULD, "Basis"},
		{"PA-FIN-02", "2.2.0", true, SHALL, "Basis"},
		{"PA-CONSENT-01", "2.0.0", false, "", ""},
		{"PA-CONSENT-01", "2.1.0", true, SHALL, "pdex-provider-consent"},
		{"PA-CONSENT-01", "2.2.0", true, MAY, "pdex-provider-consent"},
		{"PA-TRACK-01", "2.1.0", true, SHALL, "Group.member"},
		{"PA-TRACK-01", "2.2.0", false, "", ""},
		{"PA-TRACK-22", "2.2.0", true, SHOULD, "removed"},
		{"PA-MATCH-01", "2.1.0", false, "", ""},
		{"PA-MATCH-01", "2.2.0", true, SHALL, "MatchedMembers"},
		{"PA-MODE-01", "2.1.0", false, "", ""},
		{"PA-CAP-22", "2.2.0", true, SHALL, "characteristic-value-reference"},
	}
	for _, tt := range tests {
		base, ok := Lookup(tt.id)
		if !ok {
			t.Fatalf("%s is not in the catalog", tt.id)
		}
		r, ok := base.For(tt.edition)
		if ok != tt.applies {
			t.Errorf("%s in %s: applies %v, want %v", tt.id, tt.edition, ok, tt.applies)
			continue
		}
		if !ok {
			continue
		}
		if r.Level != tt.level || !strings.Contains(r.Text, tt.textHas) {
			t.Errorf("%s in %s: %s %q, want %s and %q", tt.id, tt.edition, r.Level, r.Text, tt.level, tt.textHas)
		}
	}
	// The shared requirements' 2.1.0 and 2.2.0 sources cite those editions.
	for _, id := range []string{"PA-EXP-01", "PA-SUB-02", "PA-OPT-01"} {
		base, _ := Lookup(id)
		for _, ed := range []string{"2.1.0", "2.2.0"} {
			if r, _ := base.For(ed); !strings.Contains(r.Source, "PDex "+ed) {
				t.Errorf("%s in %s cites %q", id, ed, r.Source)
			}
		}
	}
}
