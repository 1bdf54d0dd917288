package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerOptOut(e *framework.Env) {
	Describe("Opt-out", func() {
		BeforeEach(func() {
			if len(e.Config.OptedOut) == 0 {
				Skip("no opted-out member is known: set optedOut in the configuration")
			}
		})

		It("exports nothing of opted-out members in a full Group export", e.Req("PA-OPT-01"), func(ctx SpecContext) {
			x := fullExport(ctx, e)
			out := set(e.Config.OptedOut)
			Expect(x.Select(func(r framework.Resource) bool { return out[r.Patient] })).To(BeEmpty(), "resources of opted-out members")
		})

		It("exports nothing of an opted-out member named in patient", e.Req("PA-OPT-01"), func(ctx SpecContext) {
			members := subset(ctx, e)
			opted := e.Config.OptedOut[0]
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(members[0], opted))})
			Expect(x.Patients()).NotTo(ContainElement(opted), "data of opted-out Patient/%s", opted)
		})
	})
}
