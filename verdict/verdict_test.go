package verdict

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

const edition = "2.0.0"

// spec makes a Ginkgo spec report the way the suites label theirs.
func spec(area, name string, state types.SpecState, level catalog.Level, ids ...string) types.SpecReport {
	sr := types.SpecReport{
		LeafNodeType:            types.NodeTypeIt,
		LeafNodeText:            name,
		ContainerHierarchyTexts: []string{area},
		LeafNodeLabels:          append(slices.Clone(ids), string(level)),
		LeafNodeLocation:        types.CodeLocation{FileName: "/build/x/suites/" + strings.ToLower(strings.ReplaceAll(area, " ", "")) + ".go", LineNumber: 10},
		State:                   state,
		RunTime:                 20 * time.Millisecond,
	}
	if state.Is(types.SpecStateFailureStates) {
		sr.Failure = types.Failure{Message: name + " went wrong", Location: types.CodeLocation{FileName: "/build/x/suites/a.go", LineNumber: 12}}
	}
	if state == types.SpecStateSkipped {
		sr.Failure = types.Failure{Message: "no opted-out member configured (optedOut)"}
	}
	return sr
}

// passingRun covers every requirement of the edition with one passing spec.
func passingRun() types.Report {
	r := types.Report{SuiteSucceeded: true}
	for _, q := range catalog.ForEdition(edition) {
		r.SpecReports = append(r.SpecReports, spec(q.Area, "checks "+q.ID, types.SpecStatePassed, q.Level, q.ID))
	}
	return r
}

// with returns the report with the spec for id replaced by one in state.
func with(r types.Report, id string, state types.SpecState) types.Report {
	r.SpecReports = slices.Clone(r.SpecReports)
	for i, sr := range r.SpecReports {
		if slices.Contains(sr.LeafNodeLabels, id) {
			base, _ := catalog.Lookup(id)
			q, _ := base.For(edition) // the level the spec carries in the edition
			r.SpecReports[i] = spec(q.Area, sr.LeafNodeText, state, q.Level, id)
		}
	}
	return r
}

func without(r types.Report, id string) types.Report {
	r.SpecReports = slices.DeleteFunc(slices.Clone(r.SpecReports), func(sr types.SpecReport) bool {
		return slices.Contains(sr.LeafNodeLabels, id)
	})
	return r
}

func firstWithLevel(l catalog.Level) string {
	for _, q := range catalog.ForEdition(edition) {
		if q.Level == l {
			return q.ID
		}
	}
	return ""
}

func TestVerdict(t *testing.T) {
	shall, should, may := firstWithLevel(catalog.SHALL), firstWithLevel(catalog.SHOULD), firstWithLevel(catalog.MAY)
	if shall == "" || should == "" || may == "" {
		t.Fatalf("the catalog lacks a level: SHALL %q SHOULD %q MAY %q", shall, should, may)
	}
	suiteFailure := passingRun()
	suiteFailure.SpecReports = append(suiteFailure.SpecReports, types.SpecReport{
		LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStateFailed,
		Failure: types.Failure{Message: "could not reach the target"},
	})
	interrupted := passingRun()
	interrupted.SuiteSucceeded = false
	interrupted.SpecialSuiteFailureReasons = []string{"Interrupted by User"}
	unlabelled := passingRun()
	u := spec("Full export", "an unlabelled check", types.SpecStateFailed, "")
	u.LeafNodeLabels = nil
	unlabelled.SpecReports = append(unlabelled.SpecReports, u)

	blocked := with(passingRun(), shall, types.SpecStateSkipped)
	for i, sr := range blocked.SpecReports {
		if slices.Contains(sr.LeafNodeLabels, shall) {
			blocked.SpecReports[i].ReportEntries = types.ReportEntries{reportEntry(evidence.Blocked{Prerequisite: "the full Group export", Reason: "kick-off answered 404"})}
		}
	}
	partly := passingRun()
	base, _ := catalog.Lookup(shall)
	q, _ := base.For(edition)
	partly.SpecReports = append(partly.SpecReports, spec(q.Area, "another check of "+shall, types.SpecStateSkipped, q.Level, shall))

	tests := []struct {
		name         string
		report       types.Report
		failOnShould bool
		verdict      string
		failed       bool
		reqStatus    map[string]string
	}{
		{"every SHALL tested and met", passingRun(), false, Conformant, false, map[string]string{shall: Passed}},
		{"a SHALL failure", with(passingRun(), shall, types.SpecStateFailed), false, NotConformant, true, map[string]string{shall: Failed}},
		{"a SHALL spec panicked", with(passingRun(), shall, types.SpecStatePanicked), false, NotConformant, true, map[string]string{shall: Failed}},
		{"a SHALL spec timed out", with(passingRun(), shall, types.SpecStateTimedout), false, NotConformant, true, map[string]string{shall: Failed}},
		{"a SHOULD failure is a warning", with(passingRun(), should, types.SpecStateFailed), false, Conformant, false, map[string]string{should: Warning}},
		{"a SHOULD failure fails with --fail-on should", with(passingRun(), should, types.SpecStateFailed), true, NotConformant, true, map[string]string{should: Failed}},
		{"a MAY failure is a warning even with --fail-on should", with(passingRun(), may, types.SpecStateFailed), true, Conformant, false, map[string]string{may: Warning}},
		{"a SHALL requirement only skipped", with(passingRun(), shall, types.SpecStateSkipped), false, Incomplete, false, map[string]string{shall: Skipped}},
		{"a SHALL requirement untested", without(passingRun(), shall), false, Incomplete, false, map[string]string{shall: NotTested}},
		{"a SHOULD requirement untested", without(passingRun(), should), false, Conformant, false, map[string]string{should: NotTested}},
		{"a failure beats incompleteness", with(without(passingRun(), should), shall, types.SpecStateFailed), false, NotConformant, true, nil},
		{"a BeforeSuite failure", suiteFailure, false, NotConformant, true, nil},
		{"an interrupted run", interrupted, false, Incomplete, false, nil},
		{"an unlabelled spec failing fails the run", unlabelled, false, NotConformant, true, nil},
		{"a blocked SHALL spec", blocked, false, Incomplete, false, map[string]string{shall: Blocked}},
		{"a SHALL requirement partly tested", partly, false, Incomplete, false, map[string]string{shall: PartlyTested}},
		{"an interrupted spec is not a failure", with(passingRun(), shall, types.SpecStateInterrupted), false, Incomplete, false, map[string]string{shall: Skipped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := FromReport(tt.report, Options{Edition: edition, FailOnShould: tt.failOnShould})
			if run.Verdict != tt.verdict {
				t.Errorf("verdict = %q, want %q (reasons %q)", run.Verdict, tt.verdict, run.Reasons)
			}
			if got := run.ExitCode == ExitFailures; got != tt.failed {
				t.Errorf("exit code %d, failed = %v, want %v", run.ExitCode, got, tt.failed)
			}
			wantExit := map[string]int{Conformant: ExitConformant, NotConformant: ExitFailures, Incomplete: ExitIncomplete}[tt.verdict]
			if run.ExitCode != wantExit {
				t.Errorf("exit code %d, want %d", run.ExitCode, wantExit)
			}
			if len(run.Reasons) == 0 {
				t.Error("no reasons given for the verdict")
			}
			for id, want := range tt.reqStatus {
				i := slices.IndexFunc(run.Requirements, func(q Requirement) bool { return q.ID == id })
				if i < 0 {
					t.Fatalf("requirement %s is missing from the model", id)
				}
				if got := run.Requirements[i].Status; got != want {
					t.Errorf("%s status = %q, want %q", id, got, want)
				}
			}
		})
	}
}

func reportEntry(v any) types.ReportEntry {
	e := types.ReportEntry{Name: evidence.EntryBlocked}
	e.Value = types.WrapEntryValue(v)
	return e
}

// TestNotApplicable: a requirement the edition does not have is listed as
// not applicable, whatever covers it, and never makes a run incomplete.
func TestNotApplicable(t *testing.T) {
	var only string
	for _, r := range catalog.All() {
		if !r.AppliesTo("2.2.0") {
			only = r.ID
			break
		}
	}
	if only == "" {
		t.Skip("every requirement applies to 2.2.0")
	}
	r := types.Report{SuiteSucceeded: true}
	for _, q := range catalog.ForEdition("2.2.0") {
		r.SpecReports = append(r.SpecReports, spec(q.Area, "checks "+q.ID, types.SpecStatePassed, q.Level, q.ID))
	}
	out := FromReport(r, Options{Edition: "2.2.0"})
	i := slices.IndexFunc(out.Requirements, func(q Requirement) bool { return q.ID == only })
	if i < 0 || out.Requirements[i].Status != NotApplicable {
		t.Fatalf("%s: %+v", only, out.Requirements[i])
	}
	if out.Verdict != Conformant || out.ExitCode != ExitConformant {
		t.Errorf("verdict %q exit %d: %q", out.Verdict, out.ExitCode, out.Reasons)
	}
}

func TestNotesLeadTheReasonsWithoutChangingTheVerdict(t *testing.T) {
	note := "The target declares PDex edition 2.1.0, but the run holds it to edition 2.0.0."
	specs := []Spec{{Name: "s", Requirements: []string{"PA-EXP-01"}, Level: catalog.SHALL, State: Failed}}
	out := Judge(specs, Options{Edition: "2.0.0", Notes: []string{note}})
	if out.Verdict != NotConformant || len(out.Reasons) == 0 || out.Reasons[0] != note {
		t.Errorf("verdict %s, reasons %q", out.Verdict, out.Reasons)
	}
}
