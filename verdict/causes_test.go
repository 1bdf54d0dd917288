package verdict

import (
	"slices"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

func withEntry(r types.Report, id string, b evidence.Blocked) types.Report {
	r.SpecReports = slices.Clone(r.SpecReports)
	for i, sr := range r.SpecReports {
		if slices.Contains(sr.LeafNodeLabels, id) {
			sr.ReportEntries = append(slices.Clone(sr.ReportEntries), types.ReportEntry{Name: evidence.EntryBlocked, Value: types.WrapEntryValue(b)})
			r.SpecReports[i] = sr
		}
	}
	return r
}

// TestMetPrerequisiteBlocks: a spec that met a failed prerequisite is
// blocked whether it failed or passed; one that met connection failures is
// blocked only if the run found the target down.
func TestMetPrerequisiteBlocks(t *testing.T) {
	target := Cause{Prerequisite: "the target answering", What: "The target stopped answering.", Fix: "Restart it."}
	tests := []struct {
		name   string
		state  types.SpecState
		entry  evidence.Blocked
		causes []Cause
		want   string
	}{
		{"failed after meeting it", types.SpecStateFailed, evidence.Blocked{Prerequisite: "an access token", Reason: "no token", Met: true}, nil, Blocked},
		{"passed after meeting it", types.SpecStatePassed, evidence.Blocked{Prerequisite: "an access token", Reason: "no token", Met: true}, nil, Blocked},
		{"connection failures, target down", types.SpecStateFailed, evidence.Blocked{Prerequisite: target.Prerequisite, IfFailed: true}, []Cause{target}, Blocked},
		{"connection failures, target up", types.SpecStateFailed, evidence.Blocked{Prerequisite: target.Prerequisite, IfFailed: true}, nil, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := withEntry(with(passingRun(), "PA-EXP-04", tt.state), "PA-EXP-04", tt.entry)
			o := FromReport(r, Options{Edition: edition, Causes: tt.causes})
			for _, s := range o.Specs {
				if slices.Contains(s.Requirements, "PA-EXP-04") && s.State != tt.want {
					t.Errorf("state %s, want %s (%s)", s.State, tt.want, s.Reason)
				}
			}
			if tt.want == Blocked && (o.Verdict == Conformant || o.ExitCode == ExitConformant) {
				t.Errorf("verdict %s with a blocked SHALL spec", o.Verdict)
			}
			if len(tt.causes) > 0 && o.Reasons[0] != "The target stopped answering. Restart it." {
				t.Errorf("the first reason is %q, want the root cause with its fix", o.Reasons[0])
			}
		})
	}
}

// TestGapAnalysis: against plain $export the PDex-only requirements are
// not applicable, their specs are not part of the run, and the verdict is a
// gap analysis with exit 1 even when everything else passed.
func TestGapAnalysis(t *testing.T) {
	o := FromReport(passingRun(), Options{Edition: edition, GapAnalysis: true})
	if o.Verdict != GapAnalysis || o.ExitCode != ExitFailures {
		t.Fatalf("verdict %s exit %d, want gap analysis, 1", o.Verdict, o.ExitCode)
	}
	for _, q := range o.Requirements {
		_, pdexOnly := catalog.PDexOnly(q.ID)
		if pdexOnly != (q.Status == NotApplicable) && q.AppliesTo(edition) {
			t.Errorf("%s: %s", q.ID, q.Status)
		}
	}
	for _, s := range o.Specs {
		if len(s.Requirements) == 1 {
			if _, pdexOnly := catalog.PDexOnly(s.Requirements[0]); pdexOnly {
				t.Errorf("the spec of %s is part of a gap analysis", s.Requirements[0])
			}
		}
	}
	if o.Counts.Failed != 0 || len(o.Reasons) < 2 {
		t.Errorf("counts %+v, reasons %v", o.Counts, o.Reasons)
	}
}
