package profile

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// knownInvalid lists the shipped examples that really are invalid, with
// the rule each breaks and why. Each must still fail exactly so: an entry
// that stops failing is itself a test failure, so the list cannot go stale.
var knownInvalid = map[string]struct {
	rule, reason string
}{
	"hl7.fhir.us.core#3.1.1/example/DiagnosticReport-cardiology-report.json": {
		"Attachment.hash", "presentedForm.hash is not valid base64 (the example carries a placeholder)",
	},
	"hl7.fhir.us.core#3.1.1/example/Observation-satO2-fiO2.json": {
		"Observation.component:FlowRate.value[x]", "the flow rate is in L/min, which is not in the required value set ucum-vitals-common 4.0.1 that pulse-oximetry binds it to",
	},
}

// TestShippedExamplesValidate validates every example of the shipped
// packages that claims a profile against the profiles it claims: each
// must have zero errors, except the known invalid ones above.
func TestShippedExamplesValidate(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	checked, claims := 0, 0
	perProfile := map[string]int{}
	seenInvalid := map[string]bool{}
	for _, p := range reg.Packages() {
		err := reg.WalkExamples(p.ID(), func(ex packages.Example) error {
			r := v.Validate(ex.Raw)
			if len(r.Checked) < 2 && len(r.NotRun) == 0 {
				return nil // claims no profile
			}
			claims++
			name := p.ID() + "/" + ex.File
			for _, nr := range r.NotRun {
				t.Errorf("%s: claimed profile %s not checked", name, nr)
			}
			for _, c := range r.Checked[1:] {
				perProfile[c]++
			}
			checked++
			var errs []validators.Issue
			for _, is := range r.Issues {
				if is.Severity == validators.Error {
					errs = append(errs, is)
				}
			}
			if ki, ok := knownInvalid[name]; ok {
				seenInvalid[name] = true
				if len(errs) != 1 || errs[0].Rule != ki.rule {
					t.Errorf("%s: known invalid (%s): want exactly one error on rule %s, got %v", name, ki.reason, ki.rule, errs)
				}
				return nil
			}
			for _, is := range errs {
				t.Errorf("%s: %s", name, is)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name := range knownInvalid {
		if !seenInvalid[name] {
			t.Errorf("known invalid example %s was not found", name)
		}
	}
	if checked < 200 {
		t.Errorf("only %d examples claiming profiles were checked; expected over 200", checked)
	}
	var lines []string
	for p, n := range perProfile {
		lines = append(lines, fmt.Sprintf("%4d %s", n, p))
	}
	sort.Strings(lines)
	t.Logf("%d examples claiming profiles checked, %d known invalid; per profile:\n%s", checked, len(knownInvalid), strings.Join(lines, "\n"))
}
