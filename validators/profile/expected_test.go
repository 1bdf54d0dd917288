package profile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

func TestValidateExpected(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	store := &exampleStore{reg: reg, byID: map[string]map[string][]byte{}}
	const (
		usPatient   = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|3.1.1"
		c4bbPatient = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.0.0"
		offline     = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|7.0.0"
	)
	either := []string{usPatient, c4bbPatient}
	tests := []struct {
		name   string
		pkg    string
		file   string
		mutate []mutation
		anyOf  []string
		errors []string // rules of the errors, in any order
		warn   string   // a warning that must be there
		// inexact: other errors than those listed may be there, but no
		// acceptable-profile error
		inexact bool
		notRun  []string // what is reported as not checked
	}{
		{name: "US Core Patient claiming US Core meets an acceptable profile", pkg: uscore, file: "example/Patient-example.json", anyOf: either},
		{name: "C4BB Patient claiming C4BB meets an acceptable profile", pkg: carin, file: c4bbPat, anyOf: either},
		{name: "a Patient claiming nothing is weighed against each acceptable profile", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{del("meta")}, anyOf: either},
		{name: "a Patient meeting none: one error listing them, and the nearest one's errors", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{del("meta"), del("gender")}, anyOf: either,
			errors: []string{RuleAcceptable, "Patient.gender"}},
		{name: "a claimed profile must be met even when another acceptable one is", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{set("meta", js(`{"profile": ["`+c4bbPatient+`"]}`))}, anyOf: either,
			errors: []string{"Patient.meta.lastUpdated", "Patient.identifier:memberid"}, inexact: true},
		{name: "a failing claimed acceptable profile counts as the nearest", pkg: carin, file: c4bbPat,
			mutate: []mutation{del("identifier")}, anyOf: []string{c4bbPatient},
			errors: []string{RuleAcceptable, "Patient.identifier"}},
		{name: "an acceptable profile not available offline is not checked, and said so, when the others fail", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{del("meta"), del("gender")}, anyOf: []string{usPatient, offline},
			warn: "not judged", notRun: []string{offline}},
		{name: "an acceptable profile not available offline does not matter when another is met", pkg: uscore, file: "example/Patient-example.json",
			anyOf: []string{offline, usPatient}},
		{name: "no acceptable profile available offline: not checked, not failed", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{del("meta"), del("gender")}, anyOf: []string{offline}, notRun: []string{offline}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := store.get(t, tt.pkg, tt.file)
			for _, m := range tt.mutate {
				m(t, res)
			}
			raw, _ := json.Marshal(res)
			r := v.ValidateExpected(Decode(raw), nil, tt.anyOf, "PDex 2.0.0 for a Patient")
			got := map[string]bool{}
			for _, is := range r.Issues {
				if is.Severity == validators.Error {
					got[is.Rule] = true
					if is.Rule == RuleAcceptable {
						for _, a := range tt.anyOf {
							if !strings.Contains(is.Message, a) {
								t.Errorf("the error does not name %s: %s", a, is.Message)
							}
						}
						if !strings.Contains(is.Message, "nearest") || is.Profile == "" {
							t.Errorf("the error does not name the nearest profile: %+v", is)
						}
					} else if is.Profile == "" {
						t.Errorf("an error does not name its profile: %+v", is)
					}
				}
			}
			for _, want := range tt.errors {
				if !got[want] {
					t.Errorf("no error on %s; got:\n%s", want, issueList(r.Issues))
				}
			}
			if tt.inexact && got[RuleAcceptable] {
				t.Errorf("a resource meeting an acceptable profile got %s:\n%s", RuleAcceptable, issueList(r.Issues))
			}
			if !tt.inexact && len(got) != len(tt.errors) {
				t.Errorf("errors on %v, want %v; got:\n%s", got, tt.errors, issueList(r.Issues))
			}
			if tt.warn != "" && !hasIssue(r.Issues, validators.Warning, tt.warn) {
				t.Errorf("no warning saying %q:\n%s", tt.warn, issueList(r.Issues))
			}
			var notChecked []string
			for _, is := range r.Issues {
				if is.NotChecked != "" {
					notChecked = append(notChecked, is.NotChecked)
				}
			}
			if strings.Join(notChecked, " ") != strings.Join(tt.notRun, " ") {
				t.Errorf("not checked: %v, want %v", notChecked, tt.notRun)
			}
		})
	}
}

func hasIssue(issues []validators.Issue, sev validators.Severity, fragment string) bool {
	for _, is := range issues {
		if is.Severity == sev && strings.Contains(is.Message, fragment) {
			return true
		}
	}
	return false
}
