package reference

import (
	"encoding/json"
	"fmt"

	"github.com/pdex-conform/pdex-conform/fixtures"
)

// The CARIN NonFinancial EOB profiles (SPEC §5) set max = 0 on every amount a
// claim carries: what the provider was paid (remittance) and what the member
// owes (cost-sharing). The Provider Access API exports claims in that form.

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

// isClaimEOB tells claims (and encounters) from prior authorizations, which
// keep their amounts.
func isClaimEOB(eob map[string]any) bool {
	use, _ := eob["use"].(string)
	return use != "preauthorization" && use != "predetermination"
}

// stripFinancial removes remittance and cost-sharing from a claim EOB in
// place and, when reprofile is set, points meta.profile at the NonFinancial
// profile.
func stripFinancial(eob map[string]any, reprofile bool) {
	delete(eob, "total")
	if pay, ok := eob["payment"].(map[string]any); ok {
		delete(pay, "amount")
		if len(pay) == 0 {
			delete(eob, "payment")
		}
	}
	if bbs, ok := eob["benefitBalance"].([]any); ok {
		for _, bb := range bbs {
			if m, ok := bb.(map[string]any); ok {
				delete(m, "financial")
			}
		}
	}
	eob["adjudication"] = stripAdjudication(eob["adjudication"])
	for _, key := range []string{"item", "addItem"} {
		stripLines(eob, key)
	}
	for k, v := range eob {
		if v == nil {
			delete(eob, k)
		}
	}
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

// stripLines removes net, unitPrice and adjudication amounts from item or
// addItem lines and their detail and subDetail, recursively.
func stripLines(parent map[string]any, key string) {
	lines, ok := parent[key].([]any)
	if !ok {
		return
	}
	for _, l := range lines {
		m, ok := l.(map[string]any)
		if !ok {
			continue
		}
		delete(m, "net")
		delete(m, "unitPrice")
		if adj := stripAdjudication(m["adjudication"]); adj != nil {
			m["adjudication"] = adj
		} else {
			delete(m, "adjudication")
		}
		stripLines(m, "detail")
		stripLines(m, "subDetail")
	}
}

// stripAdjudication drops each adjudication's amount, and the adjudications
// that held nothing but an amount (their category names the amount's kind,
// e.g. "paidtoprovider": without the amount they say nothing).
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
		delete(m, "amount")
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
