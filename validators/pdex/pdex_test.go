package pdex

import (
	"testing"
	"time"
)

func TestFinancialIssues(t *testing.T) {
	tests := []struct {
		name  string
		eob   string
		paths []string
	}{
		{"clean claim", `{"resourceType":"ExplanationOfBenefit","use":"claim","item":[{"sequence":1,"adjudication":[{"category":{"text":"x"},"reason":{"text":"y"}}]}]}`, nil},
		{"total", `{"resourceType":"ExplanationOfBenefit","use":"claim","total":[{"amount":{"value":1}}]}`, []string{"ExplanationOfBenefit.total"}},
		{"payment amount", `{"resourceType":"ExplanationOfBenefit","use":"claim","payment":{"amount":{"value":1}}}`, []string{"ExplanationOfBenefit.payment.amount"}},
		{"item net and adjudication", `{"resourceType":"ExplanationOfBenefit","use":"claim","item":[{"net":{"value":1},"adjudication":[{"amount":{"value":1}}]}]}`,
			[]string{"ExplanationOfBenefit.item[0].net", "ExplanationOfBenefit.item[0].adjudication[0].amount"}},
		{"subDetail unitPrice", `{"resourceType":"ExplanationOfBenefit","use":"claim","item":[{"detail":[{"subDetail":[{"unitPrice":{"value":1}}]}]}]}`,
			[]string{"ExplanationOfBenefit.item[0].detail[0].subDetail[0].unitPrice"}},
		{"benefit balance", `{"resourceType":"ExplanationOfBenefit","use":"claim","benefitBalance":[{"financial":[{}]}]}`, []string{"ExplanationOfBenefit.benefitBalance[0].financial"}},
		{"addItem", `{"resourceType":"ExplanationOfBenefit","use":"claim","addItem":[{"net":{"value":1}}]}`, []string{"ExplanationOfBenefit.addItem[0].net"}},
		{"prior auth keeps amounts", `{"resourceType":"ExplanationOfBenefit","use":"preauthorization","total":[{"amount":{"value":1}}]}`, nil},
		{"not an EOB", `{"resourceType":"Claim","total":{"value":1}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FinancialIssues([]byte(tt.eob))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.paths) {
				t.Fatalf("got %v, want paths %v", got, tt.paths)
			}
			for i, is := range got {
				if is.Path != tt.paths[i] || is.Rule != RuleFinancial {
					t.Errorf("issue %d = %s, want path %s", i, is, tt.paths[i])
				}
			}
		})
	}
	if _, err := FinancialIssues([]byte("{")); err == nil {
		t.Error("bad JSON: want an error")
	}
}

func TestWindow(t *testing.T) {
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	w := Window{Since: &since, Until: &until}
	tests := []struct {
		at   time.Time
		want bool
	}{
		{since, true}, {until, true}, {since.Add(-time.Millisecond), false}, {until.Add(time.Millisecond), false}, {since.AddDate(0, 2, 0), true},
	}
	for _, tt := range tests {
		if got := w.Contains(tt.at); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.at, got, tt.want)
		}
		if got := WindowIssue("Observation", "o1", tt.at, w) == nil; got != tt.want {
			t.Errorf("WindowIssue(%s) nil = %v, want %v", tt.at, got, tt.want)
		}
	}
	if WindowIssue("Observation", "o1", time.Time{}, Window{}) == nil {
		t.Error("a missing lastUpdated must be an issue")
	}
	if MemberIssue("Observation", "o1", "p2", map[string]bool{"p1": true}) == nil || MemberIssue("Observation", "o1", "p1", map[string]bool{"p1": true}) != nil {
		t.Error("MemberIssue")
	}
	if TypeIssue("Condition", "c", map[string]bool{"Observation": true}) == nil || TypeIssue("Condition", "c", nil) != nil {
		t.Error("TypeIssue")
	}
}
