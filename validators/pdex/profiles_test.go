package pdex

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestExpectedProfiles(t *testing.T) {
	tests := []struct {
		typ, raw string
		want     []string
	}{
		{"ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"institutional"}]},"subType":{"coding":[{"code":"inpatient"}]}}`,
			[]string{carin + "C4BB-ExplanationOfBenefit-Inpatient-Institutional-NonFinancial"}},
		{"ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"institutional"}]},"subType":{"coding":[{"code":"outpatient"}]}}`,
			[]string{carin + "C4BB-ExplanationOfBenefit-Outpatient-Institutional-NonFinancial"}},
		{"ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"professional"}]}}`,
			[]string{carin + "C4BB-ExplanationOfBenefit-Professional-NonClinician-NonFinancial"}},
		{"ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"oral"}]}}`, []string{carin + "C4BB-ExplanationOfBenefit-Oral-NonFinancial"}},
		{"ExplanationOfBenefit", `{"use":"claim","type":{"coding":[{"code":"pharmacy"}]}}`, []string{carin + "C4BB-ExplanationOfBenefit-Pharmacy-NonFinancial"}},
		{"ExplanationOfBenefit", `{"use":"preauthorization","type":{"coding":[{"code":"professional"}]}}`, []string{ProfilePriorAuth}},
		{"Observation", `{"category":[{"coding":[{"code":"laboratory"}]}]}`, []string{usCore + "us-core-observation-lab"}},
		{"Observation", `{"category":[{"coding":[{"code":"vital-signs"}]}]}`, []string{ProfileVitalSigns}},
		{"Observation", `{"category":[{"coding":[{"code":"survey"}]}]}`, nil},
		{"DiagnosticReport", `{"category":[{"coding":[{"code":"LAB"}]}]}`, []string{usCore + "us-core-diagnosticreport-lab"}},
		{"Patient", `{}`, []string{carin + "C4BB-Patient"}},
		{"Condition", `{}`, []string{usCore + "us-core-condition"}},
		{"Basic", `{}`, nil},
	}
	for _, tt := range tests {
		got := ExpectedProfiles("", tt.typ, []byte(tt.raw))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ExpectedProfiles(%s, %s) = %v, want %v", tt.typ, tt.raw, got, tt.want)
		}
		// The decoded form gives the same answer, with the type given or
		// read from the resource.
		var res map[string]any
		if err := json.Unmarshal([]byte(tt.raw), &res); err != nil {
			t.Fatal(err)
		}
		if got := ExpectedProfilesOf("", tt.typ, res); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ExpectedProfilesOf(%s, %s) = %v, want %v", tt.typ, tt.raw, got, tt.want)
		}
		res["resourceType"] = tt.typ
		if got := ExpectedProfilesOf("", "", res); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ExpectedProfilesOf(\"\", %s) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

func TestExpectedProfilesAreVersionedPerEdition(t *testing.T) {
	tests := []struct{ typ, raw, want string }{
		{"ExplanationOfBenefit", `{"use":"preauthorization"}`, ProfilePriorAuth + "|2.0.0"},
		{"Patient", `{}`, carin + "C4BB-Patient|2.0.0"},
		{"Condition", `{}`, usCore + "us-core-condition|3.1.1"},
		{"Observation", `{"category":[{"coding":[{"code":"vital-signs"}]}]}`, ProfileVitalSigns + "|4.0.1"},
	}
	for _, tt := range tests {
		got := ExpectedProfiles("2.0.0", tt.typ, []byte(tt.raw))
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("ExpectedProfiles(2.0.0, %s) = %v, want %s", tt.typ, got, tt.want)
		}
	}
}
