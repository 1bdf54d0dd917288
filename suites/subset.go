package suites

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func registerSubset(e *framework.Env) {
	Describe("Member subset", func() {
		// Bulk Data, patient: "the server SHALL NOT return resources in the
		// patient compartments belonging to patients outside of this list";
		// and for the named members the export is the Group export narrowed
		// to them (PDex 2.0.0: "Request information for a subset of members
		// in the Group"; ATR: the Members whose data has to be exported).
		// So the output is exactly the full Group export's data of those
		// members: nothing of anyone else, nothing of theirs left out, and
		// nothing of theirs that the full export lacked (which would make
		// the full export the incomplete one). Resources outside every
		// patient's compartment (Organization, Practitioner) are not judged:
		// a server MAY add them to either export.
		It("exports only the members named in patient, and all of their data", e.Req("PA-SUB-01"), func(ctx SpecContext) {
			needCompartment(e)
			ms := subset(ctx, e)
			full := fullExport(ctx, e)
			want := keysOf(full, ofPatients(ms...))
			if len(want) == 0 {
				Skip(fmt.Sprintf("the full Group export holds no data of %s to compare with", patientRefs(ms)))
			}
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(ms...))})
			var problems []string
			if d := framework.Offending(keysOf(x, outsiders(ms...))); !d.Empty() {
				problems = append(problems, "it holds data of patients not named: "+d.String())
			}
			got := keysOf(x, ofPatients(ms...))
			if d := framework.Missing(want, got); !d.Empty() {
				problems = append(problems, "data of the named members that the full Group export holds is missing: "+d.String())
			}
			if d := framework.Unexpected(want, got); !d.Empty() {
				problems = append(problems, "it holds data of the named members that the full Group export left out: "+d.String())
			}
			if len(problems) > 0 {
				framework.Failf("the export with patient=%s is not the full Group export's data of those members: %s", patientRefs(ms), strings.Join(problems, "; "))
			}
		})

		// PDex 2.0.0 uses ATR's operation, whose patient parameter says
		// "The server will ignore invalid references to patients or if the
		// patients are not part of the Group": the non-member's data is not
		// exported and the named member's still is. Bulk Data instead lets
		// a server answer such a request with an error (patient: "SHOULD
		// return details via a FHIR OperationOutcome resource in an error
		// response"); a server that does is not failed, but then nothing
		// here can be judged and the spec skips.
		It("ignores a patient who is not a member of the Group, and still exports the member", e.Req("PA-SUB-02"), func(ctx SpecContext) {
			if e.Config.NonMember == "" {
				Skip("no patient outside the Group is known: set nonMember in the configuration")
			}
			needCompartment(e)
			m := subset(ctx, e)[0]
			full := fullExport(ctx, e)
			x := exportOrRefusal(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(m, e.Config.NonMember))},
				"a kick-off naming the non-member Patient/"+e.Config.NonMember)
			if d := framework.Offending(keysOf(x, outsiders(m))); !d.Empty() {
				framework.Failf("the export with patient=Patient/%s, Patient/%s holds data of patients other than the member: %s", m, e.Config.NonMember, d)
			}
			want := keysOf(full, ofPatients(m))
			if d := framework.Missing(want, keysOf(x, ofPatients(m))); !d.Empty() {
				framework.Failf("naming the non-member Patient/%s lost data of the member Patient/%s that the full Group export holds: %s", e.Config.NonMember, m, d)
			}
		})

		It("reports each ignored non-member as an OperationOutcome in the error files", e.Req("PA-SUB-03"), func(ctx SpecContext) {
			if e.Config.NonMember == "" {
				Skip("no patient outside the Group is known: set nonMember in the configuration")
			}
			m := subset(ctx, e)[0]
			x := exportOrRefusal(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot, framework.PatientParams(m, e.Config.NonMember))},
				"a kick-off naming the non-member Patient/"+e.Config.NonMember)
			found, outcomes := false, 0
			err := x.EachError(func(raw []byte) error {
				var oo struct {
					ResourceType string `json:"resourceType"`
				}
				if json.Unmarshal(raw, &oo) == nil && oo.ResourceType == "OperationOutcome" {
					outcomes++
					if strings.Contains(string(raw), e.Config.NonMember) {
						found = true
					}
				}
				return nil
			})
			if err != nil {
				framework.Failf("reading the error files: %v", err)
			}
			if !found {
				framework.Failf("none of the %d OperationOutcomes in the error files (%d files) names the ignored Patient/%s", outcomes, len(x.ErrFiles), e.Config.NonMember)
			}
		})
	})
}

// exportOrRefusal runs an export that a server may refuse as a whole with
// an OperationOutcome (Bulk Data's error response to a request it will not
// serve): the spec then skips, saying so. Any other failure fails (or
// blocks) it as export does.
func exportOrRefusal(ctx SpecContext, e *framework.Env, r framework.ExportRequest, what string) *framework.Export {
	x, err := e.RunExport(ctx, r)
	if err == nil {
		return x
	}
	var ke *framework.KickoffError
	if errors.As(err, &ke) && ke.Stage == "kick-off" && x.Kickoff != nil && isRefusal(x.Kickoff) {
		blockIfFlowBroken(ctx, e)
		Skip(fmt.Sprintf("%s was refused with HTTP %d and an OperationOutcome (%s), which Bulk Data allows: there is no export to judge",
			what, x.Kickoff.StatusCode, framework.OutcomeText(x.Kickoff.Body)))
	}
	blockIfFlowBroken(ctx, e)
	framework.Failf("the export did not complete: %v", err)
	return nil
}
