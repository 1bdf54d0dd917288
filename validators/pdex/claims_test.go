package pdex

import (
	"slices"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

func TestIsClaimEOB(t *testing.T) {
	tests := []struct {
		res             map[string]any
		claim, priorAut bool
	}{
		{map[string]any{"resourceType": "ExplanationOfBenefit", "use": "claim"}, true, false},
		{map[string]any{"resourceType": "ExplanationOfBenefit", "use": "preauthorization"}, false, true},
		{map[string]any{"resourceType": "ExplanationOfBenefit", "use": "predetermination"}, false, false},
		{map[string]any{"resourceType": "ExplanationOfBenefit"}, true, false},                 // no use: judged as a claim
		{map[string]any{"resourceType": "ExplanationOfBenefit", "use": "bogus"}, true, false}, // unknown use: likewise
		{map[string]any{"resourceType": "Claim", "use": "claim"}, false, false},               // not an EOB
		{map[string]any{"resourceType": "ClaimResponse", "use": "preauthorization"}, false, false},
	}
	for _, tt := range tests {
		if got := IsClaimEOB(tt.res); got != tt.claim {
			t.Errorf("IsClaimEOB(%v) = %v, want %v", tt.res, got, tt.claim)
		}
		if got := IsPriorAuth(tt.res); got != tt.priorAut {
			t.Errorf("IsPriorAuth(%v) = %v, want %v", tt.res, got, tt.priorAut)
		}
	}
}

func TestFinancialIssuesSkipPredeterminations(t *testing.T) {
	got, err := FinancialIssues([]byte(`{"resourceType":"ExplanationOfBenefit","use":"predetermination","total":[{"amount":{"value":1}}],"item":[{"net":{"value":1}}]}`))
	if err != nil || len(got) != 0 {
		t.Errorf("a predetermination is not a claim EOB: got %v, %v", got, err)
	}
	got, _ = FinancialIssues([]byte(`{"resourceType":"ExplanationOfBenefit","total":[{"amount":{"value":1}}]}`))
	if len(got) != 1 {
		t.Errorf("an EOB without use is judged as a claim: got %v", got)
	}
}

// TestVisitFinancialEveryLevel: each listed element is found where it
// stands, with its indexed path, and the visitor may delete it.
func TestVisitFinancialEveryLevel(t *testing.T) {
	for _, p := range FinancialElements() {
		steps := strings.Split(p, ".")
		// build {"a":[{"b":[{"c": {...}}]}]} for a.b.c
		var leaf any = map[string]any{"value": 1}
		for i := len(steps) - 1; i >= 0; i-- {
			obj := map[string]any{steps[i]: leaf}
			if i > 0 {
				leaf = []any{map[string]any{"other": true}, obj} // index 1
			} else {
				leaf = obj
			}
		}
		eob := leaf.(map[string]any)
		want := "ExplanationOfBenefit"
		for i, s := range steps {
			want += "." + s
			if i < len(steps)-1 {
				want += "[1]"
			}
		}
		var got []string
		VisitFinancial(eob, func(h map[string]any, key, path string) {
			got = append(got, path)
			delete(h, key)
		})
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: visited %v, want [%s]", p, got, want)
		}
		VisitFinancial(eob, func(_ map[string]any, _, path string) { t.Errorf("%s: %s still there after delete", p, path) })
	}
}

// TestFinancialElementsCoverNonFinancialProfiles: every element the CARIN
// NonFinancial EOB profiles forbid (max 0, slices aside) is one of
// FinancialElements, so the rule is at least as strict as the profiles it
// was taken from.
func TestFinancialElementsCoverNonFinancialProfiles(t *testing.T) {
	reg := packagestest.Registry(t)
	listed := FinancialElements()
	profiles := 0
	for _, name := range []string{"Inpatient-Institutional", "Outpatient-Institutional", "Professional-NonClinician", "Oral", "Pharmacy"} {
		sd, err := reg.StructureDefinition(carin + "C4BB-ExplanationOfBenefit-" + name + "-NonFinancial")
		if err != nil || sd == nil {
			t.Fatalf("NonFinancial profile %s: %v", name, err)
		}
		profiles++
		for _, ed := range sd.Snapshot.Element {
			if ed.Max != "0" || strings.Contains(ed.ID, ":") {
				continue
			}
			p := strings.TrimPrefix(ed.Path, "ExplanationOfBenefit.")
			if !slices.Contains(listed, p) {
				t.Errorf("%s sets %s to max 0, but it is not a financial element", name, ed.Path)
			}
		}
	}
	if profiles != 5 {
		t.Fatalf("checked %d profiles", profiles)
	}
}
