package suites

import (
	"context"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// lastDownloads reads, from an export's Patients, every value of the
// last-download extension per patient.
func lastDownloads(e *framework.Env, x *framework.Export) map[string][]string {
	out := map[string][]string{}
	Expect(x.EachResource("Patient", func(raw []byte) error {
		var p struct {
			ID        string `json:"id"`
			Extension []struct {
				URL           string `json:"url"`
				ValueDateTime string `json:"valueDateTime"`
				ValueInstant  string `json:"valueInstant"`
			} `json:"extension"`
		}
		Expect(json.Unmarshal(raw, &p)).To(Succeed())
		out[p.ID] = []string{}
		for _, ext := range p.Extension {
			if ext.URL == e.Config.LastDownloadExtension {
				v := ext.ValueDateTime
				if v == "" {
					v = ext.ValueInstant
				}
				out[p.ID] = append(out[p.ID], v)
			}
		}
		return nil
	})).To(Succeed())
	return out
}

// patientsOnly exports just the Patients of some members, as a snapshot.
func patientsOnly(ctx context.Context, e *framework.Env, members ...string) *framework.Export {
	return export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
		framework.PatientParams(members...), param("_type", "valueString", "Patient"))})
}

// clockSkew allows for the target's clock differing from ours when a
// recorded time is compared with when we saw the export run.
const clockSkew = 2 * time.Minute

func registerExportMode(e *framework.Env) {
	if !e.Applies("PA-MODE-01", "PA-MODE-02", "PA-MODE-03") {
		return // the edition does not have these requirements
	}
	Describe("exportMode", func() {
		DescribeTable("refuses a kick-off without a valid exportMode",
			func(ctx SpecContext, ps func() []bulk.Param, why string) { refused(ctx, e, ps(), why) },
			Entry("without exportMode", e.Req("PA-MODE-01"),
				func() []bulk.Param { return without(e.DefaultParams(edition.Snapshot), "exportMode") }, "a kick-off without exportMode"),
			Entry("with exportMode stream", e.Req("PA-MODE-01"),
				func() []bulk.Param { return with(e.DefaultParams(edition.Snapshot), "exportMode", "stream") }, "exportMode stream"),
		)

		It("leaves the last-download extension alone on a snapshot", e.Req("PA-MODE-02"), func(ctx SpecContext) {
			m := subset(ctx, e)[0]
			first := lastDownloads(e, patientsOnly(ctx, e, m))
			second := lastDownloads(e, patientsOnly(ctx, e, m))
			Expect(first).To(HaveKey(m), "the snapshot exported Patient/%s", m)
			Expect(second[m]).To(Equal(first[m]), "a snapshot export changed the last-download extension of Patient/%s", m)
		})

		It("records the download on each exported member's Patient, replacing the earlier value, and on no other", e.Req("PA-MODE-03"), func(ctx SpecContext) {
			members := subset(ctx, e)
			if len(members) < 2 {
				Skip("two members are needed (one downloaded, one not): set members in the configuration")
			}
			downloaded, other := members[0], members[1]
			before := lastDownloads(e, patientsOnly(ctx, e, downloaded, other))
			// Two downloads: the second must replace what the first recorded
			// (and any value the Patient carried before), not add to it.
			export(ctx, e, framework.ExportRequest{Params: params(e, edition.Download, framework.PatientParams(downloaded))})
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Download, framework.PatientParams(downloaded))})
			after := lastDownloads(e, patientsOnly(ctx, e, downloaded, other))
			Expect(after[downloaded]).To(HaveLen(1), "Patient/%s must carry exactly one last-download value (%s), replacing any earlier one", downloaded, e.Config.LastDownloadExtension)
			at, err := time.Parse(time.RFC3339Nano, after[downloaded][0])
			Expect(err).NotTo(HaveOccurred(), "the last-download value must be a dateTime with a time")
			Expect(at).To(BeTemporally(">=", x.Started.Add(-clockSkew)), "recorded before the second download was asked for")
			Expect(at).To(BeTemporally("<=", x.Completed.Add(clockSkew)), "recorded after the second download completed")
			Expect(after[other]).To(Equal(before[other]), "Patient/%s was not downloaded but its last-download value changed", other)
		})
	})
}
