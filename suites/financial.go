package suites

import (
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
)

func registerFinancial(e *framework.Env) {
	Describe("Remittance and cost-sharing", func() {
		It("exports claim EOBs without remittance or cost-sharing", e.Req("PA-FIN-01"), func(ctx SpecContext) {
			if e.Config.AllowFinancial {
				Skip("financial data is allowed by the configuration (allowFinancial: value-based contracts, §pdex-323)")
			}
			x := fullExport(ctx, e)
			var found []string
			claims, offending := 0, 0
			Expect(x.EachResource("ExplanationOfBenefit", func(raw []byte) error {
				issues, err := pdex.FinancialIssues(raw)
				if err != nil {
					return err
				}
				var eob map[string]any
				json.Unmarshal(raw, &eob)
				if !pdex.IsPriorAuth(eob) {
					claims++
				}
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
				return nil
			})).To(Succeed())
			Expect(claims).To(BeNumerically(">", 0), "the full export holds no claim EOB to check")
			Expect(found).To(BeEmpty(), "%d of %d claim EOBs carry remittance or cost-sharing, e.g. %s", offending, claims, strings.Join(first(found, 3), "; "))
		})

		It("exports claim EOBs that claim their CARIN NonFinancial profile", e.Req("PA-FIN-02"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			var wrong []string
			Expect(x.EachResource("ExplanationOfBenefit", func(raw []byte) error {
				var eob struct {
					ID   string `json:"id"`
					Use  string `json:"use"`
					Meta struct {
						Profile []string `json:"profile"`
					} `json:"meta"`
				}
				json.Unmarshal(raw, &eob)
				if eob.Use == "preauthorization" {
					return nil
				}
				for _, p := range eob.Meta.Profile {
					p, _, _ = strings.Cut(p, "|")
					// The edition's claim profiles: NonFinancial in
					// 2.0.0, Basis from 2.1.0.
					for _, nf := range e.Edition.ClaimProfiles {
						if p == nf {
							return nil
						}
					}
				}
				if len(wrong) < 20 {
					wrong = append(wrong, fmt.Sprintf("ExplanationOfBenefit/%s claims %v", eob.ID, eob.Meta.Profile))
				}
				return nil
			})).To(Succeed())
			Expect(wrong).To(BeEmpty(), "claim EOBs that do not claim a NonFinancial profile, e.g. %s", strings.Join(first(wrong, 2), "; "))
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
