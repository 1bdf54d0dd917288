package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// lastDownloads reads, from an export's Patients, every value of the
// last-download extension per patient.
func lastDownloads(e *framework.Env, x *framework.Export) map[string][]string {
	out := map[string][]string{}
	err := x.EachResource("Patient", func(raw []byte) error {
		var p struct {
			ID        string `json:"id"`
			Extension []struct {
				URL           string `json:"url"`
				ValueDateTime string `json:"valueDateTime"`
				ValueInstant  string `json:"valueInstant"`
			} `json:"extension"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("an exported Patient is not JSON: %w", err)
		}
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
	})
	if err != nil {
		framework.Failf("reading the exported Patients: %v", err)
	}
	return out
}

// patientsOnly exports just the Patients of some members, as a snapshot.
func patientsOnly(ctx context.Context, e *framework.Env, members ...string) *framework.Export {
	return export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
		framework.PatientParams(members...), param("_type", "valueString", "Patient"))})
}

// recorded reads the one last-download value a member's Patient carries,
// failing the spec when the Patient is missing, carries none or several,
// or carries one that is not a dateTime with a time.
func recorded(e *framework.Env, values map[string][]string, m, when string) time.Time {
	vs, ok := values[m]
	switch {
	case !ok:
		framework.Failf("the snapshot of Patient/%s %s did not export that Patient", m, when)
	case len(vs) != 1:
		framework.Failf("Patient/%s carries %d values of %s %s (%v); a download must leave exactly one, replacing any earlier one", m, len(vs), e.Config.LastDownloadExtension, when, vs)
	}
	at, err := time.Parse(time.RFC3339Nano, vs[0])
	if err != nil {
		framework.Failf("Patient/%s records the last download %s as %q, which is not a dateTime with a time", m, when, vs[0])
	}
	return at
}

// clockSkew allows for the target's clock differing from ours when a
// recorded time is compared with when we saw the export run.
const clockSkew = 2 * time.Minute

// within fails the spec unless a recorded time lies in the export it records
// (within clockSkew of when we saw it start and complete).
func within(m string, at time.Time, x *framework.Export, which string) {
	if at.Before(x.Started.Add(-clockSkew)) || at.After(x.Completed.Add(clockSkew)) {
		framework.Failf("Patient/%s records the %s download at %s, but that download ran from %s to %s (allowing %s of clock skew)",
			m, which, at.Format(time.RFC3339), x.Started.UTC().Format(time.RFC3339), x.Completed.UTC().Format(time.RFC3339), clockSkew)
	}
}

func registerExportMode(e *framework.Env) {
	if !e.Applies("PA-MODE-01", "PA-MODE-02", "PA-MODE-03") {
		return // the edition does not have these requirements
	}
	Describe("exportMode", func() {
		// PDex 2.0.0: "The exportMode field SHALL have one of two values ...
		// snapshot, download": an obligation on the kick-off, i.e. on the
		// client. What the server does with another value is Bulk Data's
		// rule for what it does not support: it "SHOULD return an error and
		// FHIR OperationOutcome resource". A kick-off without exportMode is
		// a client's fault the seed gives the server no rule for (it may
		// default to a mode), so it is not tested.
		It("refuses a kick-off whose exportMode is neither snapshot nor download", e.Req("PA-MODE-01"), func(ctx SpecContext) {
			good := small(ctx, e)
			refused(ctx, e, framework.ExportRequest{Params: good}, framework.ExportRequest{Params: with(good, "exportMode", "stream")}, "a kick-off with exportMode stream")
		})

		// The seed ties the last-download record to download alone ("the
		// download exportMode will cause the Payer to track the latest
		// download date/time"; snapshot is "for viewing"): a snapshot
		// leaves the recorded value as it is (an inference, hence SHOULD).
		// A download first gives the Patient a value to keep, so that the
		// check never passes on a Patient that records nothing.
		It("leaves the last-download extension alone on a snapshot", e.Req("PA-MODE-02"), func(ctx SpecContext) {
			m := subset(ctx, e)[0]
			export(ctx, e, framework.ExportRequest{Params: params(e, edition.Download, framework.PatientParams(m), param("_type", "valueString", "Patient"))})
			first := lastDownloads(e, patientsOnly(ctx, e, m))
			if len(first[m]) == 0 {
				framework.Block("a download that records the last download (PA-MODE-03)",
					fmt.Sprintf("Patient/%s carries no %s after a download: there is no recorded value to keep", m, e.Config.LastDownloadExtension))
			}
			second := lastDownloads(e, patientsOnly(ctx, e, m))
			if !slices.Equal(first[m], second[m]) {
				framework.Failf("a snapshot export changed the last-download record of Patient/%s from %v to %v", m, first[m], second[m])
			}
		})

		// PDex 2.0.0, Export Mode: "the download exportMode will cause the
		// Payer to track the latest download date/time for the Patients.
		// These values will be updated in an extension associated with the
		// Patient for which a download was requested." So each download
		// replaces the value with its own time: two downloads must leave one
		// value, the second strictly later than the first and no earlier
		// than the second download's kick-off (a value recorded once and
		// never replaced, or a copy added, fails); and a member not
		// downloaded keeps theirs.
		It("records each download on the downloaded member's Patient, replacing the earlier value, and on no other", e.Req("PA-MODE-03"), func(ctx SpecContext) {
			ms := subset(ctx, e)
			if len(ms) < 2 {
				Skip("two members are needed (one downloaded, one not): set members in the configuration")
			}
			downloaded, other := ms[0], ms[1]
			before := lastDownloads(e, patientsOnly(ctx, e, downloaded, other))
			download := func() *framework.Export {
				return export(ctx, e, framework.ExportRequest{Params: params(e, edition.Download, framework.PatientParams(downloaded))})
			}
			x1 := download()
			mid := lastDownloads(e, patientsOnly(ctx, e, downloaded, other))
			v1 := recorded(e, mid, downloaded, "after the first download")
			within(downloaded, v1, x1, "first")
			// A dateTime may be recorded to the second: the second download
			// starts over a second after the first completed, so that its
			// time is a later value on any clock.
			time.Sleep(time.Until(x1.Completed.Add(1100 * time.Millisecond)))
			x2 := download()
			after := lastDownloads(e, patientsOnly(ctx, e, downloaded, other))
			v2 := recorded(e, after, downloaded, "after the second download")
			if !v2.After(v1) {
				framework.Failf("Patient/%s still records %s after a second download: the first download's value (%s) was not replaced", downloaded, v2.Format(time.RFC3339Nano), v1.Format(time.RFC3339Nano))
			}
			within(downloaded, v2, x2, "second")
			for _, seen := range []map[string][]string{mid, after} {
				if !slices.Equal(seen[other], before[other]) {
					framework.Failf("Patient/%s was not downloaded, but its last-download record changed from %v to %v", other, before[other], seen[other])
				}
			}
		})
	})
}
