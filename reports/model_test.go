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
	"github.com/pdex-conform/pdex-conform/verdict"
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

// build judges a report as the runner does and builds the model from it.
func build(r types.Report, m Meta) *Run {
	return Build(r, verdict.FromReport(r, verdict.Options{Edition: m.Edition, FailOnShould: m.FailOnShould, LabelFilter: m.LabelFilter}), m)
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
	run := build(r, Meta{Edition: edition})

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
	// Every catalog area the edition has a requirement in, plus the new
	// one; an area whose requirements the edition lacks is left out.
	applicable := map[string]bool{}
	for _, q := range catalog.ForEdition(edition) {
		applicable[q.Area] = true
	}
	if len(run.Areas) != len(applicable)+1 {
		t.Errorf("%d areas, want every catalog area the edition has plus the new one (%d)", len(run.Areas), len(applicable)+1)
	}
	for _, a := range run.Areas {
		if a.Name != "A new area" && !applicable[a.Name] {
			t.Errorf("area %s is shown, but edition %s has no requirement in it", a.Name, edition)
		}
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
	run := build(types.Report{SpecReports: []types.SpecReport{sr}}, Meta{Edition: edition, LabelFilter: "PA-EXP-01"})
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
	run := build(types.Report{SpecReports: []types.SpecReport{checker, owner, profiles}}, Meta{Edition: edition})

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
	run := build(types.Report{SpecReports: []types.SpecReport{sr}}, Meta{Edition: edition, Secrets: []string{key}})
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
