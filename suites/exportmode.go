package suites

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pdex-conform/pdex-conform/client/bulk"
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
func patientsOnly(e *framework.Env, members ...string) *framework.Export {
	return export(e, framework.ExportRequest{Params: params(e, "snapshot",
		framework.PatientParams(members...), param("_type", "valueString", "Patient"))})
}

// clockSkew allows for the target's clock differing from ours when a
// recorded time is compared with when we saw the export run.
const clockSkew = 2 * time.Minute

func registerExportMode(e *framework.Env) {
	Describe("exportMode", func() {
		DescribeTable("refuses a kick-off without a valid exportMode",
			func(ps func() []bulk.Param, why string) { refused(e, ps(), why) },
			Entry("without exportMode", framework.Req("PA-MODE-01"),
				func() []bulk.Param { return without(e.DefaultParams("snapshot"), "exportMode") }, "a kick-off without exportMode"),
			Entry("with exportMode stream", framework.Req("PA-MODE-01"),
				func() []bulk.Param { return with(e.DefaultParams("snapshot"), "exportMode", "stream") }, "exportMode stream"),
		)

		It("leaves the last-download extension alone on a snapshot", framework.Req("PA-MODE-02"), func() {
			m := subset(e)[0]
			first := lastDownloads(e, patientsOnly(e, m))
			second := lastDownloads(e, patientsOnly(e, m))
			Expect(first).To(HaveKey(m), "the snapshot exported Patient/%s", m)
			Expect(second[m]).To(Equal(first[m]), "a snapshot export changed the last-download extension of Patient/%s", m)
		})

		It("records the download on each exported member's Patient, replacing the earlier value, and on no other", framework.Req("PA-MODE-03"), func() {
			members := subset(e)
			if len(members) < 2 {
				Skip("two members are needed (one downloaded, one not): set members in the configuration")
			}
			downloaded, other := members[0], members[1]
			before := lastDownloads(e, patientsOnly(e, downloaded, other))
			// Two downloads: the second must replace what the first recorded
			// (and any value the Patient carried before), not add to it.
			export(e, framework.ExportRequest{Params: params(e, "download", framework.PatientParams(downloaded))})
			x := export(e, framework.ExportRequest{Params: params(e, "download", framework.PatientParams(downloaded))})
			after := lastDownloads(e, patientsOnly(e, downloaded, other))
			Expect(after[downloaded]).To(HaveLen(1), "Patient/%s must carry exactly one last-download value (%s), replacing any earlier one", downloaded, e.Config.LastDownloadExtension)
			at, err := time.Parse(time.RFC3339Nano, after[downloaded][0])
			Expect(err).NotTo(HaveOccurred(), "the last-download value must be a dateTime with a time")
			Expect(at).To(BeTemporally(">=", x.Started.Add(-clockSkew)), "recorded before the second download was asked for")
			Expect(at).To(BeTemporally("<=", x.Completed.Add(clockSkew)), "recorded after the second download completed")
			Expect(after[other]).To(Equal(before[other]), "Patient/%s was not downloaded but its last-download value changed", other)
		})
	})
}
