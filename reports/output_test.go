package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
)

// sampleRun is a small run with one spec in each state and some evidence.
func sampleRun(t *testing.T) *Run {
	t.Helper()
	failed := spec("Full export", "serves every file as NDJSON", types.SpecStateFailed, catalog.SHALL, "PA-EXP-04")
	failed.Failure.Message = "Content-Type of http://t/files/1\nExpected\n    <string>: application/json\nto equal\n    <string>: application/fhir+ndjson"
	failed.ReportEntries = types.ReportEntries{
		{Name: evidence.EntryExchange, Value: types.WrapEntryValue(evidence.Exchange{
			Method: "GET", URL: "http://t/files/1", Status: 200,
			RequestHeaders:  map[string][]string{"Authorization": {"Bearer [REDACTED]"}},
			ResponseHeaders: map[string][]string{"Content-Type": {"application/json"}},
			ResponseBody:    "{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n{\"resourceType\":\"Patient\",\"id\":\"p2\"}\n",
			BodyBytes:       70000, Duration: 3 * time.Millisecond,
		})},
		{Name: evidence.EntryValidation, Value: types.WrapEntryValue(evidence.Validation{File: "http://t/files/1", Type: "Patient", Lines: 2, Errors: 1, First: []string{"line 2: error Patient.gender: unknown code"}})},
	}
	warned := spec("Full export", "sets Expires", types.SpecStateFailed, catalog.SHOULD, "PA-EXP-07")
	skipped := spec("Opt-out", "leaves out opted-out members", types.SpecStateSkipped, catalog.SHALL, "PA-OPT-01")
	passed := spec("Full export", "answers 202 <quickly> & \"well\"", types.SpecStatePassed, catalog.SHALL, "PA-EXP-01")
	passed.ReportEntries = types.ReportEntries{
		{Name: evidence.EntryExport, Value: types.WrapEntryValue(evidence.ExportSummary{Resources: map[string]int{"Patient": 2, "ExplanationOfBenefit": 9}, Files: 2, Bytes: 12345})},
	}
	for i, sr := range []*types.SpecReport{&passed, &failed, &warned, &skipped} {
		sr.LeafNodeLocation.LineNumber = 10 + i
	}
	r := types.Report{SuiteSucceeded: false, SpecReports: []types.SpecReport{failed, warned, skipped, passed}}
	return build(r, Meta{
		Target: "https://payer.example/fhir", Edition: edition, ToolVersion: "v1.2.3", Group: "g1", AuthMode: "smart",
		Started: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Duration: 4200 * time.Millisecond,
	})
}

func TestJUnit(t *testing.T) {
	run := sampleRun(t)
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, run); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("the JUnit XML does not parse: %v\n%s", err, buf.String())
	}
	if got.Tests != 4 || got.Failures != 1 || got.Skipped != 1 {
		t.Errorf("totals tests=%d failures=%d skipped=%d, want 4, 1, 1", got.Tests, got.Failures, got.Skipped)
	}
	cases := map[string]junitCase{}
	n := 0
	for _, s := range got.Suites {
		if s.Tests != len(s.Cases) {
			t.Errorf("suite %q says %d tests but holds %d", s.Name, s.Tests, len(s.Cases))
		}
		for _, c := range s.Cases {
			n++
			props := map[string]string{}
			for _, p := range c.Properties {
				props[p.Name] = p.Value
			}
			cases[props["requirements"]] = c
			if !strings.HasPrefix(c.Name, "["+props["requirements"]+"] ") {
				t.Errorf("testcase %q does not start with its requirement IDs", c.Name)
			}
			if props["level"] == "" || props["area"] != s.Name || props["state"] == "" {
				t.Errorf("testcase %q properties = %v", c.Name, props)
			}
		}
	}
	if n != len(run.Specs) {
		t.Errorf("%d testcases for %d specs", n, len(run.Specs))
	}
	f := cases["PA-EXP-04"].Failure
	if f == nil {
		t.Fatal("the failed spec has no failure element")
	}
	for _, want := range []string{"(got \"application/json\"; wanted \"application/fhir+ndjson\")", "GET http://t/files/1 -> 200 application/json", "validation of Patient", "Patient.gender: unknown code"} {
		if !strings.Contains(f.Text, want) {
			t.Errorf("failure text lacks %q:\n%s", want, f.Text)
		}
	}
	// No matcher dump, no source location: those are the JSON results'.
	for _, not := range []string{"Expected", "<string>", "suites/a.go:12"} {
		if strings.Contains(f.Text, not) {
			t.Errorf("failure text holds %q:\n%s", not, f.Text)
		}
	}
	if f.Message != "Content-Type of http://t/files/1 (got \"application/json\"; wanted \"application/fhir+ndjson\")" || f.Type != "SHALL" {
		t.Errorf("failure message=%q type=%q", f.Message, f.Type)
	}
	if c := cases["PA-EXP-07"]; c.Failure != nil || !strings.Contains(c.SystemOut, "WARNING") {
		t.Errorf("a SHOULD failure should pass with a warning in system-out: %+v", c)
	}
	if c := cases["PA-OPT-01"]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "optedOut") {
		t.Errorf("the skipped spec = %+v", c)
	}
	if c := cases["PA-EXP-01"]; c.Failure != nil || c.Skipped != nil || !strings.Contains(c.Name, `<quickly> & "well"`) {
		t.Errorf("the passed spec = %+v", c)
	}
}

func TestJSON(t *testing.T) {
	run := sampleRun(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	// The documented field names, read back without the Go types.
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	for _, k := range []string{"schemaVersion", "run", "specs", "requirements", "export", "validation"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("the results lack %q", k)
		}
	}
	runKeys := raw["run"].(map[string]any)
	for _, k := range []string{"target", "edition", "toolVersion", "started", "durationMs", "verdict", "reasons", "counts", "failOn", "group", "authMode", "labelFilter", "faults"} {
		if _, ok := runKeys[k]; !ok {
			t.Errorf("run lacks %q", k)
		}
	}
	for _, k := range []string{"id", "name", "area", "requirements", "level", "state", "durationMs", "location", "steps", "exchanges"} {
		if _, ok := raw["specs"].([]any)[0].(map[string]any)[k]; !ok {
			t.Errorf("specs[0] lacks %q", k)
		}
	}

	var got JSONResults
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != JSONSchemaVersion || got.Run.Verdict != NotConformant || got.Run.FailOn != "shall" {
		t.Errorf("run = %+v", got.Run)
	}
	if got.Run.Counts != (Counts{Passed: 1, Failed: 1, Warnings: 1, Skipped: 1, Total: 4}) {
		t.Errorf("counts = %+v", got.Run.Counts)
	}
	if !got.Run.Started.Equal(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)) || got.Run.DurationMS != 4200 {
		t.Errorf("started %v, durationMs %d", got.Run.Started, got.Run.DurationMS)
	}
	if len(got.Specs) != 4 || len(got.Requirements) != len(catalog.All()) {
		t.Fatalf("%d specs, %d requirements", len(got.Specs), len(got.Requirements))
	}
	bySpec := map[string]JSONSpec{}
	for _, s := range got.Specs {
		bySpec[s.Requirements[0]] = s
	}
	if s := bySpec["PA-EXP-04"]; s.State != Failed || s.Level != "SHALL" || s.Area != "Full export" || !strings.Contains(s.Failure, "Content-Type") || s.Exchanges != 1 {
		t.Errorf("failed spec = %+v", s)
	}
	if s := bySpec["PA-EXP-01"]; s.State != Passed || s.Failure != "" {
		t.Errorf("passed spec = %+v", s)
	}
	for _, q := range got.Requirements {
		switch q.ID {
		case "PA-EXP-04":
			if q.Status != Failed || len(q.Specs) != 1 || q.Specs[0] != bySpec["PA-EXP-04"].ID {
				t.Errorf("PA-EXP-04 = %+v", q)
			}
		case "PA-EXP-07":
			if q.Status != Warning {
				t.Errorf("PA-EXP-07 = %+v", q)
			}
		case "PA-CAP-01":
			if q.Status != NotTested || q.Specs == nil {
				t.Errorf("PA-CAP-01 = %+v, want not tested with an empty spec list", q)
			}
		}
	}
	if got.Export == nil || got.Export.ResourcesByType["ExplanationOfBenefit"] != 9 || got.Export.Files != 2 {
		t.Errorf("export = %+v", got.Export)
	}
	if v := got.Validation; v.Errors != 1 || v.Lines != 2 || v.ErrorsByType["Patient"] != 1 {
		t.Errorf("validation = %+v", v)
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  *Run
	}{{"sample", sampleRun(t)}, {"empty", build(types.Report{}, Meta{Edition: edition})}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteHTML(&buf, tc.run); err != nil {
				t.Fatal(err)
			}
			page := buf.String()
			// Nothing is fetched: no external script, style, font, image or frame.
			for _, re := range []string{`(?i)<(script|img|iframe|link|embed|object|source)[^>]*\s(src|href)=`, `(?i)@import`, `(?i)url\(`, `(?i)<link\b`} {
				if m := regexp.MustCompile(re).FindString(page); m != "" {
					t.Errorf("the page refers to an external resource: %q", m)
				}
			}
			// Without script, nothing is hidden: the filters only hide
			// specs once the script runs.
			if strings.Contains(page, " hidden") || strings.Contains(page, "display:none\"") {
				t.Error("the page hides content before any script runs")
			}
			if !strings.Contains(page, `class="verdict `+strings.ReplaceAll(tc.run.Verdict, " ", "-")) {
				t.Errorf("the verdict %q is not shown", tc.run.Verdict)
			}
		})
	}
	var buf bytes.Buffer
	run := sampleRun(t)
	if err := WriteHTML(&buf, run); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		"https://payer.example/fhir", "v1.2.3", "2026-03-04 05:06:07 UTC", "4.2 s", // header
		`<svg class="chart"`, "ExplanationOfBenefit", // summary pictures
		`id="req-PA-EXP-04"`, `href="#spec-`, // requirement table with links
		"(got &#34;application/json&#34;; wanted &#34;application/fhir&#43;ndjson&#34;)", // plain words
		"named in the failure", "Bearer [REDACTED]", "68.4 KiB", // evidence
		"Patient.gender: unknown code",                     // validation issues
		`answers 202 &lt;quickly&gt; &amp; &#34;well&#34;`, // escaped
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
