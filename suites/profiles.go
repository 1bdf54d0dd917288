package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/runner/evidence"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerProfiles(e *framework.Env) {
	Describe("Profiles", func() {
		It("exports only resources that meet the edition's profiles", framework.Req("PA-PROF-01"), func() {
			if ok, why := e.Validator.ProfilesLoaded(); !ok {
				Skip("profile validation did not run: " + why)
			}
			x := fullExport(e)
			v := e.Validate(x)
			for _, f := range v.Files {
				AddReportEntry(evidence.EntryValidation, f, ReportEntryVisibilityNever)
			}
			Expect(v.Lines).To(BeNumerically(">", 0))
			Expect(v.Errors).To(BeZero(), "%d errors in %d resources (by type: %v); see the validation evidence", v.Errors, v.Lines, v.ByType)
		})
	})
}
