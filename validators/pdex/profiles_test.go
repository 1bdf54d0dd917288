package pdex

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	harness "github.com/pdex-conform/pdex-conform/edition"
)

func TestExpected(t *testing.T) {
	nf := func(name string) []string {
		return []string{carin + "C4BB-ExplanationOfBenefit-" + name + "-NonFinancial|2.0.0"}
	}
	tests := []struct {
		edition, typ, raw string
		want              []string
	}{
		{"2.0.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"institutional"}]},"subType":{"coding":[{"code":"inpatient"}]}}`, nf("Inpatient-Institutional")},
		{"2.0.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"institutional"}]},"subType":{"coding":[{"code":"outpatient"}]}}`, nf("Outpatient-Institutional")},
		{"2.0.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"professional"}]}}`, nf("Professional-NonClinician")},
		{"2.0.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"oral"}]}}`, nf("Oral")},
		{"2.0.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"pharmacy"}]}}`, nf("Pharmacy")},
		{"2.0.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"vision"}]}}`, nil},
		{"2.0.0", "ExplanationOfBenefit", `{"use":"preauthorization","type":{"coding":[{"code":"professional"}]}}`, []string{ProfilePriorAuth + "|2.0.0"}},
		{"2.0.0", "ExplanationOfBenefit", `{"use":"predetermination","type":{"coding":[{"code":"professional"}]}}`, nil},
		{"2.1.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"pharmacy"}]}}`, []string{carin + "C4BB-ExplanationOfBenefit-Pharmacy-Basis|2.1.0"}},
		{"2.2.0", "ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"oral"}]}}`, []string{carin + "C4BB-ExplanationOfBenefit-Oral-Basis|2.2.0"}},
		{"2.1.0", "ExplanationOfBenefit", `{"use":"preauthorization"}`, []string{ProfilePriorAuth + "|2.1.0"}},
		{"2.0.0", "Patient", `{}`, []string{usCore + "us-core-patient|3.1.1", carin + "C4BB-Patient|2.0.0"}},
		{"2.0.0", "Practitioner", `{}`, []string{usCore + "us-core-practitioner|3.1.1", carin + "C4BB-Practitioner|2.0.0"}},
		{"2.0.0", "Organization", `{}`, []string{usCore + "us-core-organization|3.1.1", carin + "C4BB-Organization|2.0.0"}},
		{"2.1.0", "Patient", `{}`, []string{usCore + "us-core-patient|3.1.1", usCore + "us-core-patient|6.1.0", usCore + "us-core-patient|7.0.0", carin + "C4BB-Patient|2.1.0"}},
		{"2.0.0", "Coverage", `{}`, []string{hrex + "hrex-coverage|1.0.0", carin + "C4BB-Coverage|2.0.0"}},
		{"2.2.0", "Coverage", `{}`, []string{hrex + "hrex-coverage|1.2.0", carin + "C4BB-Coverage|2.2.0"}},
		{"2.0.0", "Observation", `{"category":[{"coding":[{"code":"laboratory"}]}]}`, []string{usCore + "us-core-observation-lab|3.1.1"}},
		{"2.0.0", "Observation", `{"category":[{"coding":[{"code":"vital-signs"}]}]}`, []string{ProfileVitalSigns + "|4.0.1"}},
		{"2.1.0", "Observation", `{"category":[{"coding":[{"code":"vital-signs"}]}]}`, []string{ProfileVitalSigns + "|4.0.1", usCore + "us-core-vital-signs|6.1.0", usCore + "us-core-vital-signs|7.0.0"}},
		{"2.0.0", "Observation", `{"category":[{"coding":[{"code":"survey"}]}]}`, nil},
		{"2.0.0", "DiagnosticReport", `{"category":[{"coding":[{"code":"LAB"}]}]}`, []string{usCore + "us-core-diagnosticreport-lab|3.1.1"}},
		{"2.0.0", "DiagnosticReport", `{"category":[{"coding":[{"code":"LP29684-5"}]}]}`, []string{usCore + "us-core-diagnosticreport-note|3.1.1"}},
		{"2.0.0", "Condition", `{}`, []string{usCore + "us-core-condition|3.1.1"}},
		{"2.2.0", "Condition", `{}`, []string{usCore + "us-core-condition|3.1.1", usCore + "us-core-condition-encounter-diagnosis|6.1.0", usCore + "us-core-condition-problems-health-concerns|6.1.0",
			usCore + "us-core-condition-encounter-diagnosis|7.0.0", usCore + "us-core-condition-problems-health-concerns|7.0.0"}},
		{"2.0.0", "Device", `{}`, []string{usCore + "us-core-implantable-device|3.1.1", pdexSD + "pdex-device|2.0.0"}},
		{"2.0.0", "MedicationDispense", `{}`, []string{pdexSD + "pdex-medicationdispense|2.0.0"}},
		{"2.1.0", "MedicationDispense", `{}`, []string{usCore + "us-core-medicationdispense|6.1.0", usCore + "us-core-medicationdispense|7.0.0", pdexSD + "pdex-medicationdispense|2.1.0"}},
		{"2.0.0", "Provenance", `{}`, []string{usCore + "us-core-provenance|3.1.1", pdexSD + "pdex-provenance|2.0.0"}},
		{"2.0.0", "Basic", `{}`, nil},
		{"banana", "Patient", `{}`, nil},
	}
	for _, tt := range tests {
		got := Expected(tt.edition, tt.typ, []byte(tt.raw))
		if !slices.Equal(got.AnyOf, tt.want) {
			t.Errorf("Expected(%s, %s, %s) = %v, want %v", tt.edition, tt.typ, tt.raw, got.AnyOf, tt.want)
		}
		if len(tt.want) > 0 && !strings.Contains(got.Label, "PDex "+tt.edition+" for a") {
			t.Errorf("label %q", got.Label)
		}
		// The decoded form gives the same answer, with the type read from
		// the resource.
		var res map[string]any
		if err := json.Unmarshal([]byte(tt.raw), &res); err != nil {
			t.Fatal(err)
		}
		res["resourceType"] = tt.typ
		if got := ExpectedOf(tt.edition, "", res); !slices.Equal(got.AnyOf, tt.want) {
			t.Errorf("ExpectedOf(%s, \"\", %s) = %v, want %v", tt.edition, tt.raw, got.AnyOf, tt.want)
		}
	}
}

// TestEditionsAreTheHarnessEditions: the validator's table covers exactly
// the editions the harness knows.
func TestEditionsAreTheHarnessEditions(t *testing.T) {
	if got, want := Editions(), harness.Names(); !slices.Equal(got, want) {
		t.Errorf("pdex.Editions() = %v, edition.Names() = %v", got, want)
	}
}
