package suites

import (
	"encoding/json"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// export runs an export for a spec and fails the spec if it does not
// complete.
func export(e *framework.Env, r framework.ExportRequest) *framework.Export {
	ctx, cancel := e.Ctx()
	defer cancel()
	x, err := e.RunExport(ctx, r)
	Expect(err).NotTo(HaveOccurred(), "the export must complete")
	return x
}

// subset returns the members for subset scenarios, skipping the spec when
// there are none.
func subset(e *framework.Env) []string {
	ctx, cancel := e.Ctx()
	defer cancel()
	m, err := e.Subset(ctx)
	if err != nil {
		Skip("no members to export: set members in the configuration (" + err.Error() + ")")
	}
	return m
}

func registerSubset(e *framework.Env) {
	Describe("Member subset", func() {
		It("exports only the members named in patient, and each of them", framework.Req("PA-SUB-01"), func() {
			members := subset(e)
			x := export(e, framework.ExportRequest{Params: params(e, "snapshot", framework.PatientParams(members...))})
			Expect(x.Patients()).To(ConsistOf(members), "compartment owners of the output")
			for _, m := range members {
				Expect(x.Resources).To(HaveKey(framework.Key("Patient", m)), "the requested member's Patient")
			}
		})

		It("ignores a patient who is not a member of the Group", framework.Req("PA-SUB-02"), func() {
			if e.Config.NonMember == "" {
				Skip("no patient outside the Group is known: set nonMember in the configuration")
			}
			members := subset(e)
			x := export(e, framework.ExportRequest{Params: params(e, "snapshot", framework.PatientParams(members[0], e.Config.NonMember))})
			Expect(x.Patients()).NotTo(ContainElement(e.Config.NonMember), "data of the non-member Patient/%s", e.Config.NonMember)
			Expect(x.Patients()).To(ContainElement(members[0]))
		})

		It("reports each ignored non-member as an OperationOutcome in the error files", framework.Req("PA-SUB-03"), func() {
			if e.Config.NonMember == "" {
				Skip("no patient outside the Group is known: set nonMember in the configuration")
			}
			members := subset(e)
			x := export(e, framework.ExportRequest{Params: params(e, "snapshot", framework.PatientParams(members[0], e.Config.NonMember))})
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
