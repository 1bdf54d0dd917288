package reference

import (
	"encoding/json"
	"fmt"

	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
)

// The CARIN NonFinancial EOB profiles (SPEC §5) set max = 0 on every amount a
// claim carries: what the provider was paid (remittance) and what the member
// owes (cost-sharing). The Provider Access API exports claims in that form.
// Which EOBs are claims, and which elements are financial, is defined once in
// validators/pdex (IsClaimEOB, FinancialElements) for the server and the
// harness alike.

// ExportForm returns the form in which a stored resource leaves the server:
// claim EOBs without financial detail, naming their NonFinancial profile;
// anything else as stored. Benchmarks use it to build export-shaped input
// without running a server.
func ExportForm(typ string, raw []byte) ([]byte, error) {
	out, err := exportForm(typ, raw)
	if out == nil && err == nil {
		out = raw
	}
	return out, err
}

// exportForm returns the form in which a stored resource leaves the server,
// or nil when that is the stored form itself: claim EOBs lose their
// financial detail and name the NonFinancial profile.
func exportForm(typ string, raw []byte) ([]byte, error) {
	if typ != "ExplanationOfBenefit" {
		return nil, nil
	}
	var eob map[string]any
	if err := json.Unmarshal(raw, &eob); err != nil {
		return nil, fmt.Errorf("stored EOB is not JSON: %w", err)
	}
	if !isClaimEOB(eob) {
		return nil, nil
	}
	stripFinancial(eob, true)
	return json.Marshal(eob)
}

// isClaimEOB tells claims and encounters from prior authorizations and
// predeterminations, which keep their amounts (pdex.IsClaimEOB).
func isClaimEOB(eob map[string]any) bool { return pdex.IsClaimEOB(eob) }

// stripFinancial removes remittance and cost-sharing from a claim EOB in
// place and, when reprofile is set, points meta.profile at the NonFinancial
// profile.
func stripFinancial(eob map[string]any, reprofile bool) {
	pdex.VisitFinancial(eob, func(holder map[string]any, key, _ string) { delete(holder, key) })
	if pay, ok := eob["payment"].(map[string]any); ok && len(pay) == 0 {
		delete(eob, "payment")
	}
	pruneAdjudications(eob)
	if meta, ok := eob["meta"].(map[string]any); ok && reprofile {
		if profs, ok := meta["profile"].([]any); ok {
			for i, p := range profs {
				s, _ := p.(string)
				if nf, ok := fixtures.NonFinancialProfile(s); ok {
					profs[i] = nf
				}
			}
		}
	}
}

// pruneAdjudications drops the adjudications left with nothing but their
// category once their amount is gone, on the EOB and on every item,
// addItem, detail and subDetail (the category names the amount's kind, e.g.
// "paidtoprovider": without the amount it says nothing).
func pruneAdjudications(m map[string]any) {
	if _, ok := m["adjudication"]; ok {
		if adj := stripAdjudication(m["adjudication"]); adj != nil {
			m["adjudication"] = adj
		} else {
			delete(m, "adjudication")
		}
	}
	for _, key := range []string{"item", "addItem", "detail", "subDetail"} {
		lines, _ := m[key].([]any)
		for _, l := range lines {
			if lm, ok := l.(map[string]any); ok {
				pruneAdjudications(lm)
			}
		}
	}
}

// stripAdjudication keeps the adjudications that still say something
// besides their category: a reason, a value or an extension.
func stripAdjudication(v any) any {
	adjs, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []any
	for _, a := range adjs {
		m, ok := a.(map[string]any)
		if !ok {
			continue
		}
		_, hasReason := m["reason"]
		_, hasValue := m["value"]
		_, hasExt := m["extension"]
		if hasReason || hasValue || hasExt {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
