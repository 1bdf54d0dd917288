package catalog

import (
	"strings"
	"testing"
)

// TestEveryRequirementLinks checks that every requirement of every edition
// links to at least one published specification page, on hl7.org.
func TestEveryRequirementLinks(t *testing.T) {
	for _, ed := range []string{"2.0.0", "2.1.0", "2.2.0"} {
		for _, r := range ForEdition(ed) {
			links := Links(r, ed)
			if len(links) == 0 {
				t.Errorf("%s (%s): no link for source %q", r.ID, ed, r.Source)
			}
			for _, l := range links {
				if !strings.HasPrefix(l.URL, "https://hl7.org/fhir/") || l.Title == "" {
					t.Errorf("%s (%s): link %+v is not a titled hl7.org page", r.ID, ed, l)
				}
			}
		}
	}
	r, _ := Lookup("PA-AUTH-02")
	if l := Links(r, "2.0.0"); len(l) != 1 || !strings.Contains(l[0].URL, "backend-services.html") {
		t.Errorf("PA-AUTH-02 links %v, want the SMART Backend Services page", l)
	}
}
