package suites

import (
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/fixtures"
	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
)

func patientOf(typ string, raw []byte) string {
	p, _ := fixtures.PatientOf(typ, raw)
	return p
}

// medianUpdate picks a time that splits the full export's lastUpdated
// values in two, so that a window selects a real subset.
func medianUpdate(x *framework.Export) time.Time {
	var ts []time.Time
	for _, r := range x.Resources {
		if !r.LastUpdated.IsZero() {
			ts = append(ts, r.LastUpdated)
		}
	}
	Expect(ts).NotTo(BeEmpty(), "the full export has no meta.lastUpdated to choose a window from")
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts[len(ts)/2].UTC()
}

func windowIssues(x *framework.Export, w pdex.Window) []string {
	var out []string
	for _, k := range x.Select(func(framework.Resource) bool { return true }) {
		r := x.Resources[k]
		if is := pdex.WindowIssue(r.Type, r.ID, r.LastUpdated, w); is != nil {
			out = append(out, is.Message)
		}
	}
	return out
}

func registerSince(e *framework.Env) {
	Describe("Since and until", func() {
		It("exports with _since only what changed since, and everything that did", e.Req("PA-SINCE-01"), func(ctx SpecContext) {
			full := fullExport(ctx, e)
			since := medianUpdate(full)
			w := pdex.Window{Since: &since}
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
				param("_since", "valueInstant", since.Format(time.RFC3339Nano)))})
			Expect(windowIssues(x, w)).To(BeEmpty(), "resources outside _since=%s", since.Format(time.RFC3339))
			// Resources of members added to the Group after _since may come
			// with older data (Bulk Data allows it); the converse, a changed
			// resource left out, is never allowed.
			expected := full.Select(func(r framework.Resource) bool { return w.Contains(r.LastUpdated) })
			Expect(x.Select(func(framework.Resource) bool { return true })).To(ContainElements(expected))
			Expect(len(x.Resources)).To(BeNumerically("<", len(full.Resources)), "_since at the median must select a strict subset")
		})

		It("exports with _until only what changed until then", e.Req("PA-SINCE-02"), func(ctx SpecContext) {
			full := fullExport(ctx, e)
			until := medianUpdate(full)
			w := pdex.Window{Until: &until}
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
				param("_until", "valueInstant", until.Format(time.RFC3339Nano)))})
			Expect(windowIssues(x, w)).To(BeEmpty(), "resources outside _until=%s", until.Format(time.RFC3339))
			Expect(x.Resources).NotTo(BeEmpty(), "resources changed before the median must be exported")
		})
	})
}
