package profile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// The cases below are the places where validators go wrong on these
// packages (shared/VALIDATION-PITFALLS.md): valid variants that must pass,
// next to the broken ones in the corpus that must fail.
func TestPitfallsValidVariants(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	store := &exampleStore{reg: reg, byID: map[string]map[string][]byte{}}
	cases := []struct {
		name     string
		pkg      string
		file     string
		mutate   []mutation
		profiles []string
	}{
		// 1. choice types inside slices
		{name: "clmrecvddate.timing[x] met by timingDate", pkg: carin, file: inpNF},
		{name: "medicalrecordnumber.value[x] met by valueString", pkg: carin, file: inpNF},
		// 2. CodeableConcept pattern discriminators match by subset
		{name: "slice category pattern with an extra coding", pkg: carin, file: inpNF,
			mutate: []mutation{appendTo("supportingInfo.0.category.coding", js(`{"system": "http://example.org/local", "code": "adm"}`))}},
		{name: "slice category pattern with text and the coding second", pkg: carin, file: inpNF,
			mutate: []mutation{set("supportingInfo.1.category", js(`{"coding": [{"system": "http://example.org/local", "code": "r"}, {"system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType", "code": "clmrecvddate", "display": "Claim Received Date"}], "text": "received"}`))}},
		{name: "us-core-observation-lab category:Laboratory with a second coding", pkg: uscore, file: "example/Observation-bun.json",
			mutate: []mutation{appendTo("category.0.coding", js(`{"system": "http://example.org/local", "code": "lab"}`))}},
		// 3. slices defined only by a binding
		{name: "total:adjudicationamounttype matched by its value set", pkg: carin, file: inpFin},
		{name: "an extra total outside the binding slice (open slicing)", pkg: carin, file: inpFin,
			mutate: []mutation{appendTo("total", js(`{"category": {"coding": [{"system": "http://example.org/local", "code": "x"}]}, "amount": {"value": 1, "currency": "USD"}}`))}},
		// 4. extension context written as FHIRPath
		{name: "extension whose context is the FHIRPath descendants()", pkg: pdex, file: "example/Organization-ProviderOrg1.json",
			mutate: []mutation{set("telecom", js(`[{"system": "phone", "value": "555-0100", "extension": [{"url": "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-contactpoint-availabletime", "extension": [{"url": "daysOfWeek", "valueCode": "mon"}, {"url": "allDay", "valueBoolean": true}]}]}]`))}},
		// 5. reference targets that are profiles
		{name: "insurer refers to an Organization (target C4BB-Organization)", pkg: carin, file: inpNF},
		{name: "vital signs subject refers to a Patient (target profile)", pkg: uscore, file: "example/Observation-bmi.json"},
		// 6. versioned canonicals
		{name: "meta.profile with |2.0.0", pkg: carin, file: c4bbPat},
		{name: "profile asked for with a version", pkg: carin, file: c4bbPat, profiles: []string{"http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.0.0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := store.get(t, tc.pkg, tc.file)
			for _, m := range tc.mutate {
				m(t, res)
			}
			raw, _ := json.Marshal(res)
			r := v.Validate(raw, tc.profiles...)
			if r.Errors() != 0 || len(r.NotRun) > 0 {
				t.Errorf("want no errors and every profile checked; not run %v, issues:\n%s", r.NotRun, issueList(r.Issues))
			}
			if len(r.Checked) < 2 {
				t.Errorf("no profile checked: %v", r.Checked)
			}
		})
	}
}

func TestVersionedAndMissingProfiles(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	store := &exampleStore{reg: reg, byID: map[string]map[string][]byte{}}
	const c4bbPatient = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient"
	tests := []struct {
		name        string
		claim       []string
		asked       []string
		wantChecked string // a profile that must be in Checked
		wantNotRun  string
		wantWarning string
		wantErrors  int
	}{
		{name: "exact version", claim: []string{c4bbPatient + "|2.0.0"}, wantChecked: c4bbPatient + "|2.0.0"},
		{name: "unversioned resolves to the loaded version", claim: []string{c4bbPatient}, wantChecked: c4bbPatient,
			// the C4BB meta.profile invariant wants the versioned claim
			wantErrors: 1},
		{name: "a version not loaded is checked against the loaded one, with a warning", claim: []string{c4bbPatient + "|9.9.9"},
			wantChecked: c4bbPatient + "|9.9.9", wantWarning: "checked against version 2.0.0", wantErrors: 1},
		{name: "a profile not loaded is not run, and says so", claim: []string{c4bbPatient + "|2.0.0"}, asked: []string{"http://example.org/StructureDefinition/nope"},
			wantChecked: c4bbPatient + "|2.0.0", wantNotRun: "http://example.org/StructureDefinition/nope", wantWarning: "not loaded: not checked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := store.get(t, carin, c4bbPat)
			claims := make([]any, len(tc.claim))
			for i, c := range tc.claim {
				claims[i] = c
			}
			res["meta"].(map[string]any)["profile"] = claims
			raw, _ := json.Marshal(res)
			r := v.Validate(raw, tc.asked...)
			if !slices.Contains(r.Checked, tc.wantChecked) {
				t.Errorf("Checked = %v, want %s in it", r.Checked, tc.wantChecked)
			}
			if r.Checked[0] != "http://hl7.org/fhir/StructureDefinition/Patient|4.0.1" {
				t.Errorf("Checked[0] = %s, want the base definition", r.Checked[0])
			}
			if tc.wantNotRun != "" && !slices.Contains(r.NotRun, tc.wantNotRun) {
				t.Errorf("NotRun = %v, want %s", r.NotRun, tc.wantNotRun)
			}
			if tc.wantNotRun == "" && len(r.NotRun) > 0 {
				t.Errorf("NotRun = %v, want none", r.NotRun)
			}
			if tc.wantWarning != "" {
				found := false
				for _, is := range r.Issues {
					found = found || is.Severity == validators.Warning && strings.Contains(is.Message, tc.wantWarning)
				}
				if !found {
					t.Errorf("no warning containing %q:\n%s", tc.wantWarning, issueList(r.Issues))
				}
			}
			if r.Errors() != tc.wantErrors {
				t.Errorf("%d errors, want %d:\n%s", r.Errors(), tc.wantErrors, issueList(r.Issues))
			}
		})
	}
}

func TestMustSupportAndInvariantCounts(t *testing.T) {
	reg := packagestest.Registry(t)
	store := &exampleStore{reg: reg, byID: map[string]map[string][]byte{}}
	res := store.get(t, carin, inpNF)
	raw, _ := json.Marshal(res)

	quiet := New(reg, Options{}).Validate(raw)
	if !slices.Contains(quiet.MustSupportMissing, "ExplanationOfBenefit.careTeam") {
		t.Errorf("MustSupportMissing = %v, want ExplanationOfBenefit.careTeam in it (the example has no care team)", quiet.MustSupportMissing)
	}
	for _, is := range quiet.Issues {
		if is.Severity == validators.Information {
			t.Errorf("information issue without the option: %s", is)
		}
	}
	if quiet.InvariantsEvaluated < 50 {
		t.Errorf("InvariantsEvaluated = %d; an inpatient EOB has far more element invariants", quiet.InvariantsEvaluated)
	}

	verbose := New(reg, Options{MustSupportInfo: true}).Validate(raw)
	msInfo := 0
	for _, is := range verbose.Issues {
		if is.Severity == validators.Information && strings.Contains(is.Message, "must-support") {
			msInfo++
		}
	}
	if msInfo != len(verbose.MustSupportMissing) || msInfo == 0 {
		t.Errorf("%d must-support information issues for %d missing elements", msInfo, len(verbose.MustSupportMissing))
	}

	// A care team member in the rendering role makes CARIN's
	// EOB-careteam-qualification test qualification.memberOf() a VSAC
	// value set that is not loaded: the invariant is counted as not
	// evaluated, and is not an error.
	res = store.get(t, carin, "example/ExplanationOfBenefit-EOBOutpatientNonFinancial1.json")
	res["careTeam"] = js(`[{"sequence": 1, "provider": {"reference": "Practitioner/Practitioner1"}, "role": {"coding": [{"system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimCareTeamRole", "code": "rendering"}]}, "qualification": {"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "364SP0200X"}]}}]`)
	raw, _ = json.Marshal(res)
	r := New(reg, Options{InvariantInfo: true}).Validate(raw)
	if r.InvariantsUnsupported == 0 || !slices.Contains(r.UnsupportedInvariants, "EOB-careteam-qualification") {
		t.Errorf("unsupported invariants %d %v, want EOB-careteam-qualification counted", r.InvariantsUnsupported, r.UnsupportedInvariants)
	}
	info := false
	for _, is := range r.Issues {
		if is.Rule == "EOB-careteam-qualification" {
			if is.Severity != validators.Information {
				t.Errorf("an invariant that cannot be evaluated reported as %s: %s", is.Severity, is)
			}
			info = true
		}
	}
	if !info {
		t.Error("no information issue for the invariant not evaluated (Options.InvariantInfo)")
	}
}

// TestConcurrentValidation validates the shipped examples from several
// goroutines with one fresh validator (so plans compile concurrently) and
// checks the results equal a sequential run's.
func TestConcurrentValidation(t *testing.T) {
	reg := packagestest.Registry(t)
	var raws [][]byte
	for _, p := range reg.Packages() {
		if p.Name == "hl7.fhir.r4.examples" {
			continue
		}
		if err := reg.WalkExamples(p.ID(), func(ex packages.Example) error {
			raws = append(raws, ex.Raw)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	render := func(r Result) string {
		return fmt.Sprint(r.Issues, r.Checked, r.NotRun, r.InvariantsEvaluated, r.InvariantsUnsupported)
	}
	seq := New(reg, Options{})
	want := make([]string, len(raws))
	for i, raw := range raws {
		want[i] = render(seq.Validate(raw))
	}
	par := New(reg, Options{})
	got := make([]string, len(raws))
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raws); i += workers {
				got[i] = render(par.Validate(raws[i]))
			}
		}()
	}
	wg.Wait()
	for i := range raws {
		if got[i] != want[i] {
			t.Errorf("resource %d: concurrent result differs:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}
