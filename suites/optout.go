package suites

import (
	. "github.com/onsi/ginkgo/v2"

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

		// CMS-0057 (seed 000): an opted-out member's data is never shared
		// through the Provider Access API. A resource in an opted-out
		// member's compartment is their data, even when it is in another
		// member's compartment too (a Coverage the member subscribes to for
		// them). That the other members are still exported is the full
		// export's completeness spec (PA-EXP-06).
		It("exports nothing of opted-out members in a full Group export", e.Req("PA-OPT-01"), func(ctx SpecContext) {
			needCompartment(e)
			x := fullExport(ctx, e)
			if d := framework.Offending(keysOf(x, ofPatients(e.Config.OptedOut...))); !d.Empty() {
				framework.Failf("the full export of Group/%s holds data of opted-out members: %s", e.Config.Group, d)
			}
		})

		// The same when the provider names the opted-out member, together
		// with a member who has not opted out: the opt-out withholds that
		// member's data only, so the other member's data is exported as the
		// full Group export has it (an empty export would withhold it too).
		It("exports nothing of an opted-out member named in patient, and the other member's data", e.Req("PA-OPT-01"), func(ctx SpecContext) {
			needCompartment(e)
			m := subset(ctx, e)[0]
			opted := e.Config.OptedOut[0]
			full := fullExport(ctx, e)
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(m, opted))})
			if d := framework.Offending(keysOf(x, ofPatients(opted))); !d.Empty() {
				framework.Failf("the export with patient=Patient/%s, Patient/%s holds data of the opted-out Patient/%s: %s", m, opted, opted, d)
			}
			theirs, optedOut := ofPatients(m), ofPatients(e.Config.OptedOut...)
			want := keysOf(full, func(r framework.Resource) bool { return theirs(r) && !optedOut(r) })
			if d := framework.Missing(want, keysOf(x, ofPatients(m))); !d.Empty() {
				framework.Failf("naming the opted-out Patient/%s lost data of Patient/%s that the full Group export holds: %s", opted, m, d)
			}
		})
	})
}
