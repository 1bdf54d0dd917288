package suites

import (
	"fmt"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerProfiles(e *framework.Env) {
	Describe("Profiles", func() {
		It("exports only resources that meet the edition's profiles", e.Req("PA-PROF-01"), func(ctx SpecContext) {
			if ok, why := e.Validator.ProfilesLoaded(); !ok {
				Skip("profile validation did not run: " + why)
			}
			x := fullExport(ctx, e)
			v := e.Validate(x)
			for _, f := range v.Files {
				AddReportEntry(evidence.EntryValidation, f, ReportEntryVisibilityNever)
			}
			framework.ShowFailing(v)
			if v.Lines == 0 {
				Skip("the full Group export holds no resource to validate")
			}
			framework.Checkf(v.Errors == 0, "%d profile and structure errors in %d exported resources (%s), e.g. %s; the first failing resources are shown below",
				v.Errors, v.Lines, byType(v.ByType), firstIssue(v))
		})
	})
}

// byType renders error counts per type, largest first.
func byType(m map[string]int) string {
	var parts []string
	for t, n := range m {
		parts = append(parts, fmt.Sprintf("%d in %s", n, t))
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] > parts[j] })
	return strings.Join(parts, ", ")
}

// firstIssue is the first error of the first file that has one.
func firstIssue(v *framework.Validation) string {
	for _, f := range v.Files {
		for _, is := range f.First {
			if strings.Contains(is, " error ") {
				return f.Type + " " + is
			}
		}
	}
	return "(none kept)"
}
