package suites

import (
	"encoding/json"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerSubset(e *framework.Env) {
	Describe("Member subset", func() {
		It("exports only the members named in patient, and each of them", e.Req("PA-SUB-01"), func(ctx SpecContext) {
			members := subset(ctx, e)
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(members...))})
			Expect(x.Patients()).To(ConsistOf(members), "compartment owners of the output")
			for _, m := range members {
				Expect(x.Resources).To(HaveKey(framework.Key("Patient", m)), "the requested member's Patient")
			}
		})

		It("ignores a patient who is not a member of the Group", e.Req("PA-SUB-02"), func(ctx SpecContext) {
			if e.Config.NonMember == "" {
				Skip("no patient outside the Group is known: set nonMember in the configuration")
			}
			members := subset(ctx, e)
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(members[0], e.Config.NonMember))})
			Expect(x.Patients()).NotTo(ContainElement(e.Config.NonMember), "data of the non-member Patient/%s", e.Config.NonMember)
			Expect(x.Patients()).To(ContainElement(members[0]))
		})

		It("reports each ignored non-member as an OperationOutcome in the error files", e.Req("PA-SUB-03"), func(ctx SpecContext) {
			if e.Config.NonMember == "" {
				Skip("no patient outside the Group is known: set nonMember in the configuration")
			}
			members := subset(ctx, e)
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(members[0], e.Config.NonMember))})
			found := false
			Expect(x.EachError(func(raw []byte) error {
				var oo struct {
					ResourceType string `json:"resourceType"`
				}
				if json.Unmarshal(raw, &oo) == nil && oo.ResourceType == "OperationOutcome" && strings.Contains(string(raw), e.Config.NonMember) {
					found = true
				}
				return nil
			})).To(Succeed())
			Expect(found).To(BeTrue(), "no OperationOutcome in the error files names Patient/%s", e.Config.NonMember)
		})
	})
}
