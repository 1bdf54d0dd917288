package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerOptOut(e *framework.Env) {
	Describe("Opt-out", func() {
		BeforeEach(func() {
			if len(e.Config.OptedOut) == 0 {
				Skip("no opted-out member is known: set optedOut in the configuration")
			}
		})

		It("exports nothing of opted-out members in a full Group export", framework.Req("PA-OPT-01"), func() {
			x := fullExport(e)
			out := set(e.Config.OptedOut)
			Expect(x.Select(func(r framework.Resource) bool { return out[r.Patient] })).To(BeEmpty(), "resources of opted-out members")
		})

		It("exports nothing of an opted-out member named in patient", framework.Req("PA-OPT-01"), func() {
			members := subset(e)
			opted := e.Config.OptedOut[0]
			x := export(e, framework.ExportRequest{Params: params(e, "snapshot", framework.PatientParams(members[0], opted))})
			Expect(x.Patients()).NotTo(ContainElement(opted), "data of opted-out Patient/%s", opted)
		})
	})
}
