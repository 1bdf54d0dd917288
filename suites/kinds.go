package suites

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
)

// From 2.1.0 the kind of export is the exportType value:
// hl7.fhir.us.davinci-pdex#provider-snapshot, -download or -delta (E21
// "exportType", 2.2.0 §pdex-361); exportMode and the bare exportType are
// gone. What each kind does with the data: delta, "new, or updated data
// that will be stored"; download, "data that will be stored"; snapshot,
// "data for viewing". Readings (README, "Editions"): a download holds what a
// snapshot of the same request holds (nothing in the text makes them
// differ in content); a delta is judged with _since, whose window is
// well defined (how a 2.1.0 delta without _since picks "new" is open,
// EDITIONS.md §9.3, and not judged); a kick-off without exportType or with
// another value is an open question (§9.2), so its specs are SHOULDs.
func registerExportKinds(e *framework.Env) {
	if !e.Applies("PA-KIND-01") {
		return // the edition's kinds are exportMode's (2.0.0)
	}
	Describe("exportType", func() {
		for _, k := range e.Edition.Kinds {
			value := e.Edition.ExportType(k)
			It("accepts exportType "+value[len("hl7.fhir.us.davinci-pdex"):], e.Req("PA-KIND-01"), func(ctx SpecContext) {
				ps := kindParams(e, k, framework.PatientParams(subset(ctx, e)[0]), param("_type", "valueString", "Patient"))
				resp, err := e.Attempt(ctx, framework.ExportRequest{Params: ps})
				if err != nil {
					Fail(fmt.Sprintf("The kick-off with exportType %s got no answer: %v.", value, err))
				}
				if resp.StatusCode != http.StatusAccepted {
					Fail(fmt.Sprintf("The server refused exportType %s, one of the values edition %s defines, with HTTP %d: %s. (In other editions: %s.)",
						value, e.Edition.Name, resp.StatusCode, framework.OutcomeText(resp.Body), e.Edition.Others(k)))
				}
			})
		}

		It("exports with provider-download what provider-snapshot exports", e.Req("PA-KIND-02"), func(ctx SpecContext) {
			members := subset(ctx, e)
			types := param("_type", "valueString", "Patient,Condition,Observation")
			snap := export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Snapshot, framework.PatientParams(members...), types)})
			if len(snap.Resources) == 0 {
				Skip(fmt.Sprintf("the snapshot of %s (Patient, Condition, Observation) is empty: nothing to compare a download with", sample(members, 2)))
			}
			down := export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Download, framework.PatientParams(members...), types)})
			if d := framework.Compare(resourceKeys(snap), resourceKeys(down)); !d.Empty() {
				Fail(fmt.Sprintf("For the same members and types, the provider-download export differs from the provider-snapshot export: %s.", d))
			}
		})

		It("exports with provider-delta and _since only what changed since, and all of it", e.Req("PA-KIND-05"), func(ctx SpecContext) {
			needCompartment(e)
			members := subset(ctx, e)
			full := fullExport(ctx, e)
			since, ok := boundary(full)
			if !ok {
				Skip(noBoundary)
			}
			x := export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Delta, framework.PatientParams(members...),
				param("_since", "valueInstant", since.Format(time.RFC3339Nano)))})
			checkDelta(ctx, e, full, x, members, since)
		})

		for _, f := range e.Edition.OldForms {
			if f.Param.Name != "exportType" {
				continue
			}
			It("refuses 2.0.0's exportType "+f.Param.Value, e.Req("PA-KIND-03"), func(ctx SpecContext) {
				ps := with(kindParams(e, edition.Snapshot, framework.PatientParams(subset(ctx, e)[0])), "exportType", f.Param.Value)
				mustRefuse(ctx, e, ps, "with exportType "+f.Param.Value, f.Why)
			})
		}
		It("refuses an exportType that is not one of the edition's", e.Req("PA-KIND-03"), func(ctx SpecContext) {
			ps := with(kindParams(e, edition.Snapshot, framework.PatientParams(subset(ctx, e)[0])), "exportType", "http://example.org/other-export")
			mustRefuse(ctx, e, ps, "with exportType http://example.org/other-export",
				"edition "+e.Edition.Name+" says exportType SHALL be one of its three #provider- values")
		})
		for _, f := range e.Edition.OldForms {
			if f.Param.Name == "exportType" {
				continue
			}
			It("refuses 2.0.0's "+f.Param.Name+" parameter", e.Req("PA-KIND-04"), func(ctx SpecContext) {
				ps := append(kindParams(e, edition.Snapshot, framework.PatientParams(subset(ctx, e)[0])),
					bulk.Param{Name: f.Param.Name, Type: f.Param.Type, Value: f.Param.Value})
				mustRefuse(ctx, e, ps, "with "+f.Param.Name+" "+f.Param.Value, f.Why)
			})
		}

		It("accepts a kick-off without exportType", e.Req("PA-KIND-06"), func(ctx SpecContext) {
			ps := append(framework.PatientParams(subset(ctx, e)[0]), param("_type", "valueString", "Patient")...)
			resp, err := e.Attempt(ctx, framework.ExportRequest{Params: ps})
			if err != nil {
				Fail(fmt.Sprintf("The kick-off without exportType got no answer: %v.", err))
			}
			if resp.StatusCode != http.StatusAccepted {
				Fail(fmt.Sprintf("The server refused a kick-off without exportType with HTTP %d (%s); edition %s calls exportType an optional parameter.",
					resp.StatusCode, framework.OutcomeText(resp.Body), e.Edition.Name))
			}
		})
	})
}

// checkDelta judges a delta export with _since against the full export, for
// some members, in both directions: nothing outside the window (but the
// older data Bulk Data allows for members who joined the Group after
// _since), and every resource of those members that changed since.
func checkDelta(ctx context.Context, e *framework.Env, full, x *framework.Export, members []string, since time.Time) {
	g, _ := readGroup(ctx, e)
	joined := map[string]bool{} // members whose attribution started after _since
	for id, m := range g.byMember() {
		if t, err := time.Parse("2006-01-02", m.Period.Start); err == nil && !t.Before(since.Truncate(24*time.Hour)) {
			joined[id] = true
		}
	}
	in := set(members)
	w := pdex.Window{Since: &since}
	var outside []string
	for _, k := range sortedKeys(x.Resources) {
		r := x.Resources[k]
		if r.InCompartment(joined) {
			continue
		}
		if is := pdex.WindowIssue(r.Type, r.ID, r.LastUpdated, w); is != nil {
			outside = append(outside, is.Message)
		}
	}
	want := map[string]bool{}
	for k, r := range full.Resources {
		if r.InCompartment(in) && w.Contains(r.LastUpdated) {
			want[k] = true
		}
	}
	if len(want) == 0 {
		Skip(fmt.Sprintf("none of %s's resources changed since %s: nothing the delta must hold", sample(members, 2), since.Format(time.RFC3339)))
	}
	missing := framework.Missing(want, resourceKeys(x))
	switch {
	case len(outside) > 0:
		Fail(fmt.Sprintf("The provider-delta export with _since=%s holds %d resources that did not change since, e.g. %s.", since.Format(time.RFC3339), len(outside), sample(outside, 3)))
	case !missing.Empty():
		Fail(fmt.Sprintf("The provider-delta export with _since=%s left out resources of %s that changed since (they are in the full export): %s.", since.Format(time.RFC3339), sample(members, 2), missing))
	}
}

// resourceKeys is the set of "Type/id" an export holds.
func resourceKeys(x *framework.Export) map[string]bool {
	out := make(map[string]bool, len(x.Resources))
	for k := range x.Resources {
		out[k] = true
	}
	return out
}

func sortedKeys(m map[string]framework.Resource) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
