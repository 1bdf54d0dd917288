package compartment

import (
	"slices"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestOfficialDefinition reads the R4 Patient compartment from the shipped
// packages and places resources of the kinds a payer exports by it.
func TestOfficialDefinition(t *testing.T) {
	d, err := Load(packagestest.Registry(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != "4.0.1" {
		t.Errorf("Version = %q, want 4.0.1", d.Version)
	}
	// Every type the definition lists with a parameter resolved: the R4
	// definition holds 66 of them.
	if n := len(d.Types()); n < 60 {
		t.Errorf("only %d compartment types resolved: %v", n, d.Types())
	}
	tests := []struct {
		name string
		raw  string
		want []string
		in   bool // Has(type)
	}{
		{"a Patient is in its own compartment",
			`{"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2025-01-02T03:04:05Z"}}`, []string{"p1"}, true},
		{"a Patient linked to another is in both",
			`{"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p2"},"type":"seealso"}]}`, []string{"p1", "p2"}, true},
		{"Observation by subject and performer",
			`{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/x"},{"reference":"https://h/fhir/Patient/p3/_history/2"}]}`,
			[]string{"p1", "p3"}, true},
		{"Observation about a Device is in no patient's compartment",
			`{"resourceType":"Observation","id":"o","subject":{"reference":"Device/d"}}`, nil, true},
		{"Coverage by beneficiary, subscriber and policy holder",
			`{"resourceType":"Coverage","id":"c","beneficiary":{"reference":"Patient/child"},"subscriber":{"reference":"Patient/parent"},"policyHolder":{"reference":"Organization/o"},"payor":[{"reference":"Organization/payer"}]}`,
			[]string{"parent", "child"}, true},
		{"ExplanationOfBenefit by patient",
			`{"resourceType":"ExplanationOfBenefit","id":"e","patient":{"reference":"Patient/p1"},"provider":{"reference":"Patient/p9"}}`, []string{"p1"}, true},
		{"Procedure by subject and performer.actor",
			`{"resourceType":"Procedure","id":"x","subject":{"reference":"Patient/p1"},"performer":[{"actor":{"reference":"Patient/p2"}}]}`, []string{"p1", "p2"}, true},
		{"Encounter by subject",
			`{"resourceType":"Encounter","id":"x","subject":{"reference":"Patient/p1"},"participant":[{"individual":{"reference":"Patient/p2"}}]}`, []string{"p1"}, true},
		{"a Group is in each member's compartment",
			`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/a"}},{"entity":{"reference":"Patient/b"}}]}`, []string{"a", "b"}, true},
		{"Organization is outside the compartment",
			`{"resourceType":"Organization","id":"o","partOf":{"reference":"Patient/p1"}}`, nil, false},
		{"a contained reference places nothing",
			`{"resourceType":"Condition","id":"c","subject":{"reference":"#p"}}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := d.Place([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pl.Patients, tt.want) {
				t.Errorf("Patients = %v, want %v", pl.Patients, tt.want)
			}
			if got := d.Has(pl.Type); got != tt.in {
				t.Errorf("Has(%s) = %v, want %v", pl.Type, got, tt.in)
			}
		})
	}
	pl, _ := d.Place([]byte(tests[0].raw))
	if pl.Type != "Patient" || pl.ID != "p1" || pl.LastUpdated != "2025-01-02T03:04:05Z" {
		t.Errorf("Place = %+v", pl)
	}
	if _, err := d.Place([]byte(`[1,2]`)); err == nil {
		t.Error("a line that is not a JSON object was placed")
	}
}

// TestNewRefusesWhatItCannotFollow: a definition naming a parameter that no
// package defines, or whose expression is more than element paths, is an
// error, never a rule left out.
func TestNewRefusesWhatItCannotFollow(t *testing.T) {
	def := `{"resourceType":"CompartmentDefinition","url":"` + PatientURL + `","version":"x","code":"Patient",
		"resource":[{"code":"Observation","param":["subject"]},{"code":"Organization"}]}`
	ok := SearchParameter{URL: coreSearchParameter + "Observation-subject", Code: "subject", Base: []string{"Observation"}, Expression: "Observation.subject"}
	if _, err := New([]byte(def), []SearchParameter{ok}); err != nil {
		t.Fatalf("a plain definition: %v", err)
	}
	tests := []struct {
		name   string
		params []SearchParameter
		want   string
	}{
		{"unknown parameter", nil, "no loaded package defines"},
		{"parameter of another type", []SearchParameter{{URL: "u", Code: "subject", Base: []string{"Condition"}, Expression: "Condition.subject"}}, "no loaded package defines"},
		{"a function it cannot follow", []SearchParameter{{URL: "u", Code: "subject", Base: []string{"Observation"}, Expression: "Observation.subject.first()"}}, "not a path of element names"},
		{"a cast", []SearchParameter{{URL: "u", Code: "subject", Base: []string{"Observation"}, Expression: "Observation.value as Reference"}}, "not a path of element names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New([]byte(def), tt.params)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
	if _, err := New([]byte(`{"resourceType":"CompartmentDefinition","code":"Encounter"}`), nil); err == nil {
		t.Error("the Encounter compartment was taken for the Patient compartment")
	}
	// An IG's parameter of the same code on the same type yields to the
	// base specification's.
	ig := SearchParameter{URL: "http://example.org/SearchParameter/x", Code: "subject", Base: []string{"Observation"}, Expression: "Observation.focus"}
	d, err := New([]byte(def), []SearchParameter{ig, ok})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := d.Place([]byte(`{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/a"},"focus":[{"reference":"Patient/b"}]}`))
	if !slices.Equal(pl.Patients, []string{"a"}) {
		t.Errorf("Patients = %v, want [a] (the base parameter)", pl.Patients)
	}
}

func TestPatientID(t *testing.T) {
	for ref, want := range map[string]string{
		"Patient/a": "a", "https://x/fhir/Patient/a": "a", "Patient/a/_history/3": "a",
		"RelatedPatient/a": "", "#a": "", "Patient/": "", "Practitioner/a": "", "Patient/a/b": "",
	} {
		got, ok := PatientID(ref)
		if got != want || ok != (want != "") {
			t.Errorf("PatientID(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
}

func BenchmarkPlace(b *testing.B) {
	d, err := Load(packagestest.Registry(b))
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(`{"resourceType":"ExplanationOfBenefit","id":"e","meta":{"lastUpdated":"2025-01-02T03:04:05Z"},"patient":{"reference":"Patient/p1"},"item":[` +
		strings.Repeat(`{"sequence":1,"productOrService":{"coding":[{"system":"s","code":"c"}]},"adjudication":[{"category":{"coding":[{"code":"x"}]}}]},`, 40) +
		`{"sequence":2}]}`)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := d.Place(line); err != nil {
			b.Fatal(err)
		}
	}
}
