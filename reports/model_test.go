package reports

import (
	"slices"
	"strconv"
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
			q, _ := catalog.Lookup(id)
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
		{"an interrupted spec is not a failure", with(passingRun(), shall, types.SpecStateInterrupted), false, Incomplete, false, map[string]string{shall: Skipped}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := Build(tt.report, Meta{Edition: edition, FailOnShould: tt.failOnShould})
			if run.Verdict != tt.verdict {
				t.Errorf("verdict = %q, want %q (reasons %q)", run.Verdict, tt.verdict, run.Reasons)
			}
			if run.Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v", run.Failed(), tt.failed)
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

func TestBuildCountsAreasAndOrder(t *testing.T) {
	r := types.Report{SuiteSucceeded: true, SpecReports: []types.SpecReport{
		spec("Full export", "b", types.SpecStateFailed, catalog.SHALL, "PA-EXP-02"),
		spec("Discovery", "a", types.SpecStatePassed, catalog.SHALL, "PA-CAP-01"),
		spec("Full export", "c", types.SpecStateSkipped, catalog.SHALL, "PA-EXP-03"),
		spec("Full export", "d", types.SpecStateFailed, catalog.SHOULD, "PA-EXP-07"),
		spec("A new area", "e", types.SpecStatePassed, catalog.SHALL, "PA-EXP-01"),
		{LeafNodeType: types.NodeTypeBeforeEach, State: types.SpecStatePassed}, // not a spec
	}}
	r.SpecReports[2].LeafNodeLocation.LineNumber = 5 // c is written before b
	run := Build(r, Meta{Edition: edition})

	if got, want := run.Counts, (Counts{Passed: 2, Failed: 1, Warnings: 1, Skipped: 1, Total: 5}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	var names []string
	for _, s := range run.Specs {
		names = append(names, s.Area+":"+s.Name+":"+s.ID)
	}
	want := []string{"Discovery:a:spec-1", "Full export:c:spec-2", "Full export:b:spec-3", "Full export:d:spec-4", "A new area:e:spec-5"}
	if !slices.Equal(names, want) {
		t.Errorf("specs in order %q, want %q (catalog area order, then source order)", names, want)
	}
	if len(run.Areas) != len(catalog.Areas)+1 {
		t.Errorf("%d areas, want every catalog area plus the new one (%d)", len(run.Areas), len(catalog.Areas)+1)
	}
	for _, a := range run.Areas {
		switch a.Name {
		case "Full export":
			if a.Passed != 0 || a.Failed != 1 || a.Warnings != 1 || a.Skipped != 1 {
				t.Errorf("Full export area = %+v", a)
			}
		case "Group":
			if a.Total() != 0 {
				t.Errorf("Group area has %d specs, want none", a.Total())
			}
		}
	}
	if run.Areas[len(run.Areas)-1].Name != "A new area" {
		t.Errorf("an area not in the catalog should come last, got %q", run.Areas[len(run.Areas)-1].Name)
	}
	for _, q := range run.Requirements {
		if q.ID == "PA-EXP-02" && (!slices.Equal(q.Specs, []string{"spec-3"}) || q.Failed != 1) {
			t.Errorf("PA-EXP-02 = %+v, want covered by spec-3, failed", q)
		}
	}
	skipped := run.Specs[1]
	if skipped.State != Skipped || !strings.Contains(skipped.Summary, "optedOut") {
		t.Errorf("skipped spec = %+v, want its skip message", skipped)
	}
	if failed := run.Specs[2]; failed.FailedAt != "suites/a.go:12" || failed.Location != "suites/fullexport.go:10" {
		t.Errorf("locations = %q, %q; want module-relative paths", failed.FailedAt, failed.Location)
	}
}

func TestBuildLabelFilterSkips(t *testing.T) {
	sr := spec("Discovery", "a", types.SpecStateSkipped, catalog.SHALL, "PA-CAP-01")
	sr.Failure = types.Failure{}
	run := Build(types.Report{SpecReports: []types.SpecReport{sr}}, Meta{Edition: edition, LabelFilter: "PA-EXP-01"})
	if got := run.Specs[0].Summary; !strings.Contains(got, "label filter") || !run.Specs[0].Filtered {
		t.Errorf("a spec the filter left out says %q, want it to name the label filter", got)
	}
	if q := run.Requirements[0]; q.ID != "PA-CAP-01" || q.Status != NotTested || len(q.Specs) != 1 {
		t.Errorf("a requirement whose only spec was filtered out = %+v, want not tested, with the spec listed", q)
	}
}

func TestBuildEvidence(t *testing.T) {
	manifest := `{"transactionTime":"2026-01-01T00:00:00Z","request":"x","requiresAccessToken":true,"output":[],"error":[]}`
	owner := spec("Full export", "kick-off", types.SpecStatePassed, catalog.SHALL, "PA-EXP-01")
	owner.ReportEntries = types.ReportEntries{
		{Name: evidence.EntryExchange, Value: types.WrapEntryValue(evidence.Exchange{Method: "POST", URL: "http://t/Group/g/$davinci-data-export", Status: 202})},
		{Name: evidence.EntryExchange, Value: types.WrapEntryValue(evidence.Exchange{Method: "GET", URL: "http://t/jobs/1", Status: 200, ResponseBody: evidence.Preview([]byte(manifest))})},
		{Name: evidence.EntryManifest, Value: types.WrapEntryValue(manifest)},
		{Name: evidence.EntryExport, Value: types.WrapEntryValue(evidence.ExportSummary{Resources: map[string]int{"Patient": 3, "Coverage": 3}, Files: 2, Bytes: 900})},
	}
	checker := spec("Full export", "files", types.SpecStateFailed, catalog.SHALL, "PA-EXP-04")
	checker.LeafNodeLocation.LineNumber = 20
	checker.ReportEntries = types.ReportEntries{
		{Name: evidence.EntryManifest, Value: types.WrapEntryValue(manifest)},
		{Name: evidence.EntryExport, Value: types.WrapEntryValue(evidence.ExportSummary{Resources: map[string]int{"Patient": 1}, Files: 1})},
		{Name: evidence.EntryValidation, Value: types.WrapEntryValue(evidence.Validation{File: "f1", Type: "Patient", Lines: 3, Errors: 2, First: []string{"line 1: error Patient.x: bad"}})},
		{Name: evidence.EntryValidation, Value: types.WrapEntryValue(evidence.Validation{File: "f2", Type: "Coverage", Lines: 3, Warnings: 1})},
		{Name: "note", Value: types.WrapEntryValue("3 exchanges left out of the evidence")},
	}
	checker.SpecEvents = types.SpecEvents{
		{SpecEventType: types.SpecEventByStart, Message: "download the files", TimelineLocation: types.TimelineLocation{Order: 1}},
		{SpecEventType: types.SpecEventByEnd, Message: "download the files", Duration: time.Second, TimelineLocation: types.TimelineLocation{Order: 2}},
		{SpecEventType: types.SpecEventByStart, Message: "check content types", TimelineLocation: types.TimelineLocation{Order: 3}},
	}
	checker.Failure.TimelineLocation = types.TimelineLocation{Order: 4}
	// A second spec attaching the validation of the same file (as the
	// structure and profile specs do) must not count it twice.
	profiles := spec("Profiles", "profiles", types.SpecStatePassed, catalog.SHALL, "PA-PROF-01")
	profiles.ReportEntries = types.ReportEntries{
		{Name: evidence.EntryValidation, Value: types.WrapEntryValue(evidence.Validation{File: "f1", Type: "Patient", Lines: 3, Errors: 2})},
	}
	run := Build(types.Report{SpecReports: []types.SpecReport{checker, owner, profiles}}, Meta{Edition: edition})

	if got := run.Resources; got["Patient"] != 3 || got["Coverage"] != 3 || run.Export.Files != 2 {
		t.Errorf("resources = %v, export = %+v; want the largest export", got, run.Export)
	}
	if v := run.Validation; v.Files != 2 || v.Lines != 6 || v.Errors != 2 || v.Warnings != 1 || v.ErrorsByType["Patient"] != 2 || len(v.ErrorsByType) != 1 {
		t.Errorf("validation totals = %+v", v)
	}
	c := run.Specs[1]
	if c.Name != "files" {
		t.Fatalf("spec order: got %q second", c.Name)
	}
	if c.SharedFrom != run.Specs[0].ID || len(c.Shared) != 2 {
		t.Errorf("a failed spec that checked the shared export should carry its exchanges: SharedFrom %q, %d shared", c.SharedFrom, len(c.Shared))
	}
	if len(c.Steps) != 2 || c.Steps[0].Duration != time.Second || c.Steps[0].Failed || !c.Steps[1].Failed {
		t.Errorf("steps = %+v, want two, the second marked as where it failed", c.Steps)
	}
	if len(c.Notes) != 1 || len(c.Manifests) != 1 || len(c.Validations) != 2 {
		t.Errorf("notes %q, manifests %d, validations %d", c.Notes, len(c.Manifests), len(c.Validations))
	}
}

func TestBuildScrubsSecrets(t *testing.T) {
	key := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n-----END PRIVATE KEY-----\n"
	token := "v1.eyJjbGllbnQiOiJ0ZXN0In0.c2lnbmF0dXJlLXZhbHVl"
	sr := spec("Full export", "leaky", types.SpecStateFailed, catalog.SHALL, "PA-EXP-01")
	sr.Failure.Message = "token " + token + " refused; key line VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu"
	sr.CapturedGinkgoWriterOutput = "Authorization: Bearer opaque-token-1234567"
	sr.ReportEntries = types.ReportEntries{
		{Name: evidence.EntryExchange, Value: types.WrapEntryValue(evidence.Exchange{Method: "POST", URL: "http://t/token", RequestBody: "client_assertion=abc&x=" + token, ResponseBody: `{"access_token":"` + token + `"}`})},
		{Name: "note", Value: types.WrapEntryValue("the key was " + key)},
	}
	run := Build(types.Report{SpecReports: []types.SpecReport{sr}}, Meta{Edition: edition, Secrets: []string{key}})
	s := run.Specs[0]
	all := strings.Join(append([]string{s.Failure, s.Summary, s.Log, s.Exchanges[0].RequestBody, s.Exchanges[0].ResponseBody}, s.Notes...), "\n")
	for _, secret := range []string{token, "eyJjbGllbnQiOiJ0ZXN0In0", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", "VJTUt9Us8cKjMzEfYyjiWA4R4", "opaque-token-1234567"} {
		if strings.Contains(all, secret) {
			t.Errorf("the model still holds %q:\n%s", secret, all)
		}
	}
	if run.Meta.Secrets != nil {
		t.Error("the model keeps the secrets list")
	}
}

func TestPickShared(t *testing.T) {
	var exs []evidence.Exchange
	for i := range 100 {
		exs = append(exs, evidence.Exchange{Method: "GET", URL: "http://t/files/" + strconv.Itoa(i)})
	}
	got, left := pickShared(exs, "Content-Type of http://t/files/80 is wrong; http://t/files/8 is fine")
	if len(got) != maxShared || left != 100-maxShared {
		t.Fatalf("kept %d, left out %d; want %d and %d", len(got), left, maxShared, 100-maxShared)
	}
	var urls []string
	for _, ex := range got {
		urls = append(urls, ex.URL)
	}
	if !slices.Contains(urls, "http://t/files/80") || !slices.Contains(urls, "http://t/files/8") {
		t.Errorf("the exchanges the failure names were dropped: %v", urls)
	}
	if !slices.IsSortedFunc(got, func(a, b evidence.Exchange) int {
		ai, _ := strconv.Atoi(strings.TrimPrefix(a.URL, "http://t/files/"))
		bi, _ := strconv.Atoi(strings.TrimPrefix(b.URL, "http://t/files/"))
		return ai - bi
	}) {
		t.Errorf("the kept exchanges are out of order: %v", urls)
	}
	if small, left := pickShared(exs[:5], ""); len(small) != 5 || left != 0 {
		t.Errorf("a short list should be kept whole, got %d, %d left", len(small), left)
	}
}
