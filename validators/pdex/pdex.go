// Package pdex holds the Provider Access rules that are not profile
// constraints: no remittance or cost-sharing in claim EOBs, data only of
// allowed members, only the requested types, and lastUpdated inside the
// requested window. The suites and `pdex-conform validate` use them.
package pdex

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pdex-conform/pdex-conform/validators"
)

// Rule IDs, named in issues.
const (
	RuleFinancial = "pdex-no-financial"
	RuleMember    = "pdex-allowed-member"
	RuleType      = "pdex-requested-type"
	RuleWindow    = "pdex-since-until"
)

// FinancialIssues lists the remittance and cost-sharing elements present in
// a claim EOB (see FinancialElements). Other resources, prior
// authorizations and predeterminations included, yield none.
func FinancialIssues(raw []byte) ([]validators.Issue, error) {
	var eob map[string]any
	if err := json.Unmarshal(raw, &eob); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return FinancialIssuesOf(eob), nil
}

// FinancialIssuesOf is FinancialIssues for a resource already decoded (as
// encoding/json decodes into any).
func FinancialIssuesOf(eob map[string]any) []validators.Issue {
	if !IsClaimEOB(eob) {
		return nil
	}
	var out []validators.Issue
	VisitFinancial(eob, func(_ map[string]any, key, path string) {
		out = append(out, validators.Issue{
			Severity: validators.Error, Path: path, Rule: RuleFinancial,
			Message: "a claim EOB exported through Provider Access must not carry remittance or cost-sharing (" + key + ")",
		})
	})
	return out
}

// Window is a _since/_until request window; nil ends are open.
type Window struct {
	Since, Until *time.Time
}

// Contains reports whether t lies in the window (both ends inclusive, the
// reference server's documented choice).
func (w Window) Contains(t time.Time) bool {
	if w.Since != nil && t.Before(*w.Since) {
		return false
	}
	if w.Until != nil && t.After(*w.Until) {
		return false
	}
	return true
}

// WindowIssue reports a resource whose meta.lastUpdated lies outside the
// requested window, or that has none.
func WindowIssue(typ, id string, lastUpdated time.Time, w Window) *validators.Issue {
	if lastUpdated.IsZero() {
		return &validators.Issue{Severity: validators.Error, Path: typ + ".meta.lastUpdated", Rule: RuleWindow,
			Message: fmt.Sprintf("%s/%s has no meta.lastUpdated, so _since/_until cannot be checked", typ, id)}
	}
	if !w.Contains(lastUpdated) {
		return &validators.Issue{Severity: validators.Error, Path: typ + ".meta.lastUpdated", Rule: RuleWindow,
			Message: fmt.Sprintf("%s/%s was last updated %s, outside the requested window", typ, id, lastUpdated.Format(time.RFC3339))}
	}
	return nil
}

// MemberIssue reports a patient-compartment resource of a patient outside
// the allowed set.
func MemberIssue(typ, id, patient string, allowed map[string]bool) *validators.Issue {
	if patient == "" || allowed[patient] {
		return nil
	}
	return &validators.Issue{Severity: validators.Error, Path: typ, Rule: RuleMember,
		Message: fmt.Sprintf("%s/%s belongs to Patient/%s, who is not among the members the export may return", typ, id, patient)}
}

// TypeIssue reports a resource of a type that was not requested.
func TypeIssue(typ, id string, requested map[string]bool) *validators.Issue {
	if len(requested) == 0 || requested[typ] {
		return nil
	}
	return &validators.Issue{Severity: validators.Error, Path: typ, Rule: RuleType,
		Message: fmt.Sprintf("%s/%s is of a type the request did not ask for", typ, id)}
}
