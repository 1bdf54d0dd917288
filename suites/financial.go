package suites

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
)

// claimEOBs calls fn with every claim EOB of an export, as written and
// decoded, and returns how many there were; the spec fails when a file
// cannot be read. What a claim EOB is comes from validators/pdex
// (IsClaimEOB), the one definition the harness and the reference server
// share.
func claimEOBs(x *framework.Export, fn func(raw []byte, eob map[string]any)) int {
	claims := 0
	err := x.EachResource("ExplanationOfBenefit", func(raw []byte) error {
		var eob map[string]any
		if err := json.Unmarshal(raw, &eob); err != nil {
			return fmt.Errorf("an exported ExplanationOfBenefit is not JSON: %w", err)
		}
		if pdex.IsClaimEOB(eob) {
			claims++
			fn(raw, eob)
		}
		return nil
	})
	if err != nil {
		framework.Failf("Reading the exported EOBs: %v", err)
	}
	return claims
}

func registerFinancial(e *framework.Env) {
	Describe("Remittance and cost-sharing", func() {
		// CMS-0057 (seed 000): claims and encounters "excluding provider
		// remittances and patient cost-sharing"; the CARIN NonFinancial
		// profiles set every amount to max 0 (SPEC §5). A full export with
		// no claim EOB has nothing to judge: the spec skips.
		It("exports claim EOBs without remittance or cost-sharing", e.Req("PA-FIN-01"), func(ctx SpecContext) {
			if e.Config.AllowFinancial {
				Skip("financial data is allowed by the configuration (allowFinancial: value-based contracts, §pdex-323)")
			}
			var found []string
			offending := 0
			claims := claimEOBs(fullExport(ctx, e), func(raw []byte, eob map[string]any) {
				issues := pdex.FinancialIssuesOf(eob)
				if len(issues) > 0 {
					offending++
					if offending <= 3 {
						showFinancial(raw, eob, issues)
					}
				}
				for _, is := range issues {
					if len(found) < 20 {
						found = append(found, fmt.Sprintf("ExplanationOfBenefit/%v: %s", eob["id"], is.Path))
					}
				}
			})
			if claims == 0 {
				Skip("the full Group export holds no claim EOB: no remittance or cost-sharing to look for")
			}
			if offending > 0 {
				framework.Failf("%d of %d claim EOBs carry remittance or cost-sharing, e.g. %s", offending, claims, strings.Join(first(found, 3), "; "))
			}
		})

		// SPEC §6: claims and encounters are the CARIN NonFinancial EOB
		// profiles (from 2.1.0 the Basis profiles, EDITIONS.md; the
		// edition's ClaimProfiles); each claim EOB must say which it meets.
		// No claim EOB is nothing to judge: the spec skips.
		It("exports claim EOBs that claim their CARIN NonFinancial profile", e.Req("PA-FIN-02"), func(ctx SpecContext) {
			var wrong []string
			offending := 0
			claims := claimEOBs(fullExport(ctx, e), func(_ []byte, eob map[string]any) {
				meta, _ := eob["meta"].(map[string]any)
				profiles, _ := meta["profile"].([]any)
				for _, p := range profiles {
					s, _ := p.(string)
					if slices.Contains(e.Edition.ClaimProfiles, canonicalBase(s)) {
						return
					}
				}
				offending++
				if len(wrong) < 20 {
					wrong = append(wrong, fmt.Sprintf("ExplanationOfBenefit/%v claims %v", eob["id"], profiles))
				}
			})
			if claims == 0 {
				Skip("the full Group export holds no claim EOB: no profile claim to check")
			}
			if offending > 0 {
				framework.Failf("%d of %d claim EOBs do not claim one of edition %s's claim profiles (%s), e.g. %s", offending, claims, e.Edition.Name, strings.Join(e.Edition.ClaimProfiles, ", "), strings.Join(first(wrong, 2), "; "))
			}
		})
	})
}

// showFinancial shows an offending claim EOB in the report, its financial
// elements highlighted.
func showFinancial(raw []byte, eob map[string]any, issues []validators.Issue) {
	var paths, why []string
	for _, is := range issues {
		paths = append(paths, is.Path)
		why = append(why, is.Path+": "+is.Message)
	}
	framework.ShowResource(raw, fmt.Sprintf("ExplanationOfBenefit/%v", eob["id"]), paths, why)
}
