package pdex

import (
	"strconv"
	"strings"
)

// The uses of an ExplanationOfBenefit (R4 ExplanationOfBenefit.use, bound
// to http://hl7.org/fhir/ValueSet/claim-use).
const (
	UseClaim            = "claim"
	UsePreauthorization = "preauthorization"
	UsePredetermination = "predetermination"
)

// IsClaimEOB reports whether a decoded resource is a claim EOB: an
// ExplanationOfBenefit for an adjudicated claim or encounter, the data
// Provider Access exports "without provider remittances and patient
// cost-sharing" (SPEC §1 and §5, from the CMS-0057 rule).
//
// The reading, from R4's claim-use codes: "claim" is the adjudication of
// services rendered, so a claim EOB. "preauthorization" is a prior
// authorization, which Provider Access exports as a separate category of
// data (pdex-priorauthorization, SPEC §6) that keeps its amounts (SPEC
// §5). "predetermination" is an estimate asked for before any service
// ("what would be paid"), so not an adjudicated claim either. An EOB whose
// use is missing or not one of the three is judged as a claim: structure
// validation reports the bad use, and the financial rule must not be
// escapable by leaving the use out.
func IsClaimEOB(res map[string]any) bool {
	use, _ := res["use"].(string)
	return res["resourceType"] == "ExplanationOfBenefit" && claimUse(use)
}

// claimUse reports whether an EOB of this use is a claim EOB.
func claimUse(use string) bool {
	return use != UsePreauthorization && use != UsePredetermination
}

// IsPriorAuth reports whether a decoded resource is a prior-authorization
// EOB (use = preauthorization), which PDex profiles as
// pdex-priorauthorization.
func IsPriorAuth(res map[string]any) bool {
	use, _ := res["use"].(string)
	return res["resourceType"] == "ExplanationOfBenefit" && use == UsePreauthorization
}

// financialElements are the elements of a claim EOB that carry remittance
// (what the payer paid or allowed the provider) or cost-sharing (what the
// member owes): every element the CARIN Blue Button 2.0.0 NonFinancial EOB
// profiles set to max 0 (SPEC §5: total, payment.amount,
// benefitBalance.financial, adjudication.amount, the net and unitPrice of
// item, addItem and their detail and subDetail), and the adjudication
// amounts at every level of item and addItem, which R4 defines as the same
// element (ExplanationOfBenefit.item.adjudication) wherever it appears. The
// rule reads the elements themselves, not a profile: CARIN 2.1.0's "Basis"
// profiles, which PDex 2.1.0 and 2.2.0 name instead (§pdex-75), drop the
// amount slices but set nothing to max 0 (EDITIONS.md §4).
var financialElements = [...]string{
	"total",
	"payment.amount",
	"benefitBalance.financial",
	"adjudication.amount",
	"item.net",
	"item.unitPrice",
	"item.adjudication.amount",
	"item.detail.net",
	"item.detail.unitPrice",
	"item.detail.adjudication.amount",
	"item.detail.subDetail.net",
	"item.detail.subDetail.unitPrice",
	"item.detail.subDetail.adjudication.amount",
	"addItem.net",
	"addItem.unitPrice",
	"addItem.adjudication.amount",
	"addItem.detail.net",
	"addItem.detail.unitPrice",
	"addItem.detail.adjudication.amount",
	"addItem.detail.subDetail.net",
	"addItem.detail.subDetail.unitPrice",
	"addItem.detail.subDetail.adjudication.amount",
}

// FinancialElements lists the remittance and cost-sharing elements of a
// claim EOB, as paths below ExplanationOfBenefit (see financialElements for
// their source).
func FinancialElements() []string {
	return append([]string(nil), financialElements[:]...)
}

// VisitFinancial calls fn for each financial element present in a decoded
// EOB, in the order of FinancialElements: with the object that holds it,
// its property name, and its path with indexes
// (ExplanationOfBenefit.item[0].adjudication[1].amount). fn may delete the
// property from the holder. It does not look at the EOB's use: callers
// decide with IsClaimEOB.
func VisitFinancial(eob map[string]any, fn func(holder map[string]any, key, path string)) {
	for _, p := range financialElements {
		visit(eob, "ExplanationOfBenefit", strings.Split(p, "."), fn)
	}
}

func visit(obj map[string]any, path string, steps []string, fn func(map[string]any, string, string)) {
	key := steps[0]
	v, ok := obj[key]
	if !ok {
		return
	}
	if len(steps) == 1 {
		fn(obj, key, path+"."+key)
		return
	}
	switch t := v.(type) {
	case map[string]any:
		visit(t, path+"."+key, steps[1:], fn)
	case []any:
		for i, x := range t {
			if m, ok := x.(map[string]any); ok {
				visit(m, path+"."+key+"["+strconv.Itoa(i)+"]", steps[1:], fn)
			}
		}
	}
}
