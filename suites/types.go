package suites

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// commonTypes returns up to n resource types, other than those in skip,
// that the full export holds most of for the given members (ties by name):
// types a type-limited request can be judged by, since the members have
// data of them.
func commonTypes(full *framework.Export, ms []string, n int, skip ...string) []string {
	count := map[string]int{}
	in := ofPatients(ms...)
	for _, r := range full.Resources {
		if in(r) && !slices.Contains(skip, r.Type) {
			count[r.Type]++
		}
	}
	types := make([]string, 0, len(count))
	for t := range count {
		types = append(types, t)
	}
	slices.SortFunc(types, func(a, b string) int {
		if c := cmp.Compare(count[b], count[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return first(types, n)
}

func registerTypes(e *framework.Env) {
	Describe("Type-limited export", func() {
		// Bulk Data, _type: "The response SHALL be filtered to only include
		// resources of the specified resource types(s)" — only those types;
		// and a type-limited export of members is their Group export
		// narrowed to those types, so every resource of those types that
		// the full export holds of them is there too. The types are chosen
		// from what the members have, so that the second direction is never
		// judged on nothing.
		It("exports only the types named in _type, and all of the members' data of them", e.Req("PA-TYPE-01"), func(ctx SpecContext) {
			needCompartment(e)
			ms := subset(ctx, e)
			full := fullExport(ctx, e)
			types := commonTypes(full, ms, 2, "Patient")
			if len(types) == 0 {
				Skip(fmt.Sprintf("the full Group export holds no data of %s besides their Patient: no type to ask for", patientRefs(ms)))
			}
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
				framework.PatientParams(ms...), param("_type", "valueString", strings.Join(types, ",")))})
			asked := set(types)
			if d := framework.Offending(keysOf(x, func(r framework.Resource) bool { return !asked[r.Type] })); !d.Empty() {
				framework.Failf("The export asked for with _type=%s holds other types: %s", strings.Join(types, ","), d)
			}
			theirs := ofPatients(ms...)
			want := keysOf(full, func(r framework.Resource) bool { return asked[r.Type] && theirs(r) })
			if d := framework.Missing(want, keysOf(x, func(framework.Resource) bool { return true })); !d.Empty() {
				framework.Failf("The export with _type=%s for %s left out resources of those types that the full Group export holds of them: %s", strings.Join(types, ","), patientRefs(ms), d)
			}
		})

		// Bulk Data, _typeFilter: "a server with support for the parameter
		// and requested search queries SHALL filter the data in the response
		// to only include resources that meet the specified criteria", and
		// its example: a type in _type "but omitted from _typeFilter" is
		// requested "without any filters". So Observation?category=laboratory
		// keeps exactly the members' laboratory Observations and leaves the
		// other type asked for whole. Support is optional ("A server unable
		// to support the requested _typeFilter queries SHOULD return an
		// error"): a refusal with an OperationOutcome skips the spec; a
		// server that accepts the filter and ignores it fails it. A token
		// search without a system matches the code in any system (FHIR
		// search, token).
		It("exports only the resources that match _typeFilter, all of them, and the other _type types unfiltered", e.Req("PA-TYPE-02"), func(ctx SpecContext) {
			needCompartment(e)
			ms := subset(ctx, e)
			full := fullExport(ctx, e)
			theirs := ofPatients(ms...)
			labs, others := map[string]bool{}, 0
			if err := full.EachResource("Observation", func(raw []byte) error {
				var o observation
				if json.Unmarshal(raw, &o) != nil {
					return nil
				}
				k := framework.Key("Observation", o.ID)
				if r, ok := full.Resources[k]; ok && theirs(r) {
					if o.isLab() {
						labs[k] = true
					} else {
						others++
					}
				}
				return nil
			}); err != nil {
				framework.Failf("reading the full export's Observations: %v", err)
			}
			other := commonTypes(full, ms, 1, "Patient", "Observation")
			switch {
			case len(labs) == 0:
				Skip(fmt.Sprintf("the full Group export holds no laboratory Observation of %s: the filter would select nothing", patientRefs(ms)))
			case others == 0:
				Skip(fmt.Sprintf("every Observation of %s in the full Group export is a laboratory one: a server ignoring the filter could not be told apart", patientRefs(ms)))
			case len(other) == 0:
				Skip(fmt.Sprintf("the full Group export holds no data of %s besides Patients and Observations: no second type to leave unfiltered", patientRefs(ms)))
			}
			typeParam := param("_type", "valueString", "Observation,"+other[0])
			filter := param("_typeFilter", "valueString", "Observation?category=laboratory")
			req := framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(ms...), typeParam, filter)}
			x, err := e.RunExport(ctx, req)
			if err != nil {
				if x != nil && x.Kickoff != nil && isRefusal(x.Kickoff) {
					// Refused: say so only once the same request without the
					// filter is shown to be accepted.
					showRoute(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(ms...), typeParam)})
					Skip(fmt.Sprintf("the server does not support _typeFilter, optional in Bulk Data: it refused it with HTTP %d and an OperationOutcome (%s)", x.Kickoff.StatusCode, framework.OutcomeText(x.Kickoff.Body)))
				}
				blockIfFlowBroken(ctx, e)
				framework.Failf("the export did not complete: %v", err)
			}
			var notLab []string
			if err := x.EachResource("Observation", func(raw []byte) error {
				var o observation
				if json.Unmarshal(raw, &o) == nil && !o.isLab() {
					notLab = append(notLab, framework.Key("Observation", o.ID))
				}
				return nil
			}); err != nil {
				framework.Failf("reading the exported Observations: %v", err)
			}
			if d := framework.Offending(framework.KeySet(notLab...)); !d.Empty() {
				framework.Failf("The export with _typeFilter=Observation?category=laboratory kept Observations that are not laboratory ones: %s", d)
			}
			asked := map[string]bool{"Observation": true, other[0]: true}
			if d := framework.Offending(keysOf(x, func(r framework.Resource) bool { return !asked[r.Type] })); !d.Empty() {
				framework.Failf("The export asked for with _type=Observation,%s holds other types: %s", other[0], d)
			}
			got := keysOf(x, func(framework.Resource) bool { return true })
			if d := framework.Missing(labs, got); !d.Empty() {
				framework.Failf("laboratory Observations of %s that the full Group export holds are missing: %s", patientRefs(ms), d)
			}
			unfiltered := keysOf(full, func(r framework.Resource) bool { return r.Type == other[0] && theirs(r) })
			if d := framework.Missing(unfiltered, got); !d.Empty() {
				framework.Failf("The _typeFilter named only Observation, so every %s of %s must stay, but some the full Group export holds are missing: %s", other[0], patientRefs(ms), d)
			}
		})
	})
}

type observation struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Category     []struct {
		Coding []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"coding"`
	} `json:"category"`
}

func (o observation) isLab() bool {
	for _, c := range o.Category {
		for _, cd := range c.Coding {
			if cd.Code == "laboratory" {
				return true
			}
		}
	}
	return false
}
