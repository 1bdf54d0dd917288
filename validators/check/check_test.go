package check_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// claimEOB returns a stored claim EOB of the default data set (financial
// detail included) and its exported form.
func claimEOB(t *testing.T) (stored, exported []byte) {
	d, err := fixtures.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d.Resources {
		if r.Type == "ExplanationOfBenefit" && bytes.Contains(r.JSON, []byte(`"use":"claim"`)) {
			out, err := reference.ExportForm(r.Type, r.JSON)
			if err != nil {
				t.Fatal(err)
			}
			return r.JSON, out
		}
	}
	t.Fatal("no claim EOB in the default data set")
	return nil, nil
}

func errorRules(issues []validators.Issue) []string {
	var out []string
	for _, is := range issues {
		if is.Severity == validators.Error && !slices.Contains(out, is.Rule) {
			out = append(out, is.Rule)
		}
	}
	return out
}

func TestCheck(t *testing.T) {
	reg := packagestest.Registry(t)
	stored, exported := claimEOB(t)
	full := check.New(reg, check.Options{})
	noFin := check.New(reg, check.Options{NoFinancialRule: true})
	structure := check.New(nil, check.Options{})
	if !full.Profiles() || structure.Profiles() {
		t.Fatal("Profiles() does not say whether a registry was given")
	}
	tests := []struct {
		name string
		c    *check.Checker
		as   string
		raw  []byte
		// want lists rules that must be among the errors (nil: no error);
		// not lists rules that must not.
		want, not []string
	}{
		{"exported claim is clean", full, "", exported, nil, nil},
		{"stored claim breaks the rule and the NonFinancial profile", full, "", stored, []string{pdex.RuleFinancial}, nil},
		{"the rule can be left to the caller", noFin, "", stored, nil, []string{pdex.RuleFinancial}},
		{"structure only still applies the rule", structure, "", stored, []string{pdex.RuleFinancial}, nil},
		{"structure error", full, "", []byte(`{"resourceType":"Patient","id":"p1","gender":"robot"}`), []string{r4.Rule}, nil},
		{"not JSON", full, "", []byte(`{"resourceType":`), []string{r4.Rule, "json"}, nil},
		{"no resourceType is an error whatever the fallback", full, "Patient", []byte(`{"id":"p1"}`), []string{r4.Rule}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorRules(tt.c.CheckAs(tt.as, tt.raw))
			if tt.want == nil && tt.not == nil && len(got) > 0 {
				t.Fatalf("errors from %v, want none", got)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("no error from %s; errors from %v", w, got)
				}
			}
			for _, n := range tt.not {
				if slices.Contains(got, n) {
					t.Errorf("an error from %s, which was left out", n)
				}
			}
		})
	}
	// The stored claim also fails its NonFinancial profile (max 0 on the
	// amounts), a profile the edition expects without the claim naming it.
	var profileErrs int
	for _, is := range full.Check(stored) {
		if is.Severity == validators.Error && is.Rule != pdex.RuleFinancial && is.Rule != r4.Rule {
			profileErrs++
		}
	}
	if profileErrs == 0 {
		t.Error("the stored claim passed its NonFinancial profile")
	}
}
