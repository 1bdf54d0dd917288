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
	noPackages := check.New(nil, check.Options{})
	baseOnly := check.New(reg, check.Options{StructureOnly: true})
	if !full.Profiles() || noPackages.Profiles() || baseOnly.Profiles() {
		t.Fatal("Profiles() does not say whether profiles are checked")
	}
	parameters := []byte(`{"resourceType":"Parameters","parameter":[{"name":"MemberPatient","part":[{"name":"p","resource":{"resourceType":"Patient","id":"x","gender":"female"}}]}]}`)
	tests := []struct {
		name string
		c    *check.Checker
		as   string
		raw  []byte
		// want lists rules that must be among the errors (nil: no error);
		// not lists rules that must not.
		want, not []string
		// once: the input has one error, which must be reported once
		once bool
	}{
		{"exported claim is clean", full, "", exported, nil, nil, false},
		{"stored claim breaks the rule and the NonFinancial profile", full, "", stored, []string{pdex.RuleFinancial}, nil, false},
		{"the rule can be left to the caller", noFin, "", stored, nil, []string{pdex.RuleFinancial}, false},
		{"without packages the rule still applies", noPackages, "", stored, []string{pdex.RuleFinancial}, nil, false},
		{"structure error", full, "", []byte(`{"resourceType":"Patient","id":"p1","gender":"robot"}`), []string{r4.Rule}, nil, false},
		{"structure error without packages", noPackages, "", []byte(`{"resourceType":"Patient","id":"p1","gender":"robot"}`), []string{r4.Rule}, nil, false},
		{"structure error, structure only", baseOnly, "", []byte(`{"resourceType":"Patient","id":"p1","gender":"robot"}`), []string{r4.Rule}, nil, true},
		{"not JSON", full, "", []byte(`{"resourceType":`), []string{r4.Rule}, nil, true},
		{"not JSON without packages", noPackages, "", []byte(`{"resourceType":`), []string{r4.Rule}, nil, true},
		{"no resourceType is an error whatever the fallback", full, "Patient", []byte(`{"id":"p1"}`), []string{r4.Rule}, nil, false},
		{"no resourceType without packages", noPackages, "Patient", []byte(`{"id":"p1"}`), []string{r4.Rule}, nil, false},
		{"structure only leaves out profiles, not the PDex rules", baseOnly, "", stored, []string{pdex.RuleFinancial}, []string{r4.Rule}, false},
		{"a resource in a parameter", full, "", parameters, nil, nil, false},
		{"a resource in a parameter without packages", noPackages, "", parameters, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issues := tt.c.CheckAs(tt.as, tt.raw)
			got := errorRules(issues)
			if n := validators.CountErrors(issues); tt.once && n != 1 {
				t.Errorf("%d errors, want one: %v", n, issues)
			}
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
