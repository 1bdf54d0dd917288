package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// JSONSchemaVersion is the version of the results file's schema, documented
// in the README ("JSON results"). It changes when a field is removed or
// changes meaning; new fields may appear without a change.
const JSONSchemaVersion = "1"

// JSONResults is the results file (--json). Its field names are the
// documented schema.
type JSONResults struct {
	SchemaVersion string            `json:"schemaVersion"`
	Run           JSONRun           `json:"run"`
	Specs         []JSONSpec        `json:"specs"`
	Requirements  []JSONRequirement `json:"requirements"`
	Export        *JSONExport       `json:"export"`
	Validation    JSONValidation    `json:"validation"`
}

// JSONRun is the run's metadata and verdict.
type JSONRun struct {
	Target      string    `json:"target"`
	Edition     string    `json:"edition"`
	EditionWhy  string    `json:"editionWhy,omitempty"`
	ToolVersion string    `json:"toolVersion"`
	Started     time.Time `json:"started"`
	DurationMS  int64     `json:"durationMs"`
	Group       string    `json:"group"`
	AuthMode    string    `json:"authMode"`
	LabelFilter string    `json:"labelFilter"`
	FailOn      string    `json:"failOn"`
	Faults      []string  `json:"faults"`
	Verdict     string    `json:"verdict"`
	Reasons     []string  `json:"reasons"`
	Counts      Counts    `json:"counts"`
}

// JSONSpec is one spec's outcome.
type JSONSpec struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Area         string   `json:"area"`
	Requirements []string `json:"requirements"`
	Level        string   `json:"level"`
	State        string   `json:"state"`
	Failure      string   `json:"failure,omitempty"`
	Summary      string   `json:"summary,omitempty"`
	Location     string   `json:"location"`
	FailedAt     string   `json:"failedAt,omitempty"`
	DurationMS   int64    `json:"durationMs"`
	Steps        []string `json:"steps"`
	Exchanges    int      `json:"exchanges"`
	EvidenceFrom string   `json:"evidenceFrom,omitempty"`
}

// JSONRequirement is one catalog requirement and how its specs ended.
type JSONRequirement struct {
	ID     string   `json:"id"`
	Level  string   `json:"level"`
	Area   string   `json:"area"`
	Source string   `json:"source"`
	Text   string   `json:"text"`
	Status string   `json:"status"`
	Specs  []string `json:"specs"`
}

// JSONExport summarises the full Group export.
type JSONExport struct {
	Files           int            `json:"files"`
	Bytes           int64          `json:"bytes"`
	ResourcesByType map[string]int `json:"resourcesByType"`
}

// JSONValidation totals the validation of exported files.
type JSONValidation struct {
	Files        int            `json:"files"`
	Lines        int            `json:"lines"`
	Errors       int            `json:"errors"`
	Warnings     int            `json:"warnings"`
	ErrorsByType map[string]int `json:"errorsByType"`
}

// JSON returns the results in the documented schema.
func JSON(r *Run) JSONResults {
	failOn := "shall"
	if r.Meta.FailOnShould {
		failOn = "should"
	}
	out := JSONResults{
		SchemaVersion: JSONSchemaVersion,
		Run: JSONRun{
			Target: r.Meta.Target, Edition: r.Meta.Edition, EditionWhy: r.Meta.EditionWhy, ToolVersion: r.Meta.ToolVersion,
			Started: r.Meta.Started.UTC(), DurationMS: r.Meta.Duration.Milliseconds(),
			Group: r.Meta.Group, AuthMode: r.Meta.AuthMode, LabelFilter: r.Meta.LabelFilter,
			FailOn: failOn, Faults: nonNil(r.Meta.Faults),
			Verdict: r.Verdict, Reasons: nonNil(r.Reasons), Counts: r.Counts,
		},
		Specs:        []JSONSpec{},
		Requirements: []JSONRequirement{},
		Validation: JSONValidation{
			Files: r.Validation.Files, Lines: r.Validation.Lines, Errors: r.Validation.Errors,
			Warnings: r.Validation.Warnings, ErrorsByType: nonNilMap(r.Validation.ErrorsByType),
		},
	}
	if r.Export != nil {
		out.Export = &JSONExport{Files: r.Export.Files, Bytes: r.Export.Bytes, ResourcesByType: nonNilMap(r.Resources)}
	}
	for _, s := range r.Specs {
		js := JSONSpec{
			ID: s.ID, Name: s.Name, Area: s.Area, Requirements: nonNil(s.Requirements), Level: s.Level,
			State: s.State, Location: s.Location, FailedAt: s.FailedAt, DurationMS: s.Duration.Milliseconds(),
			Steps: []string{}, Exchanges: len(s.Exchanges), EvidenceFrom: s.SharedFrom,
		}
		if s.State != Passed {
			js.Failure, js.Summary = s.Failure, s.Summary
		}
		for _, st := range s.Steps {
			js.Steps = append(js.Steps, st.Text)
		}
		out.Specs = append(out.Specs, js)
	}
	for _, q := range r.Requirements {
		out.Requirements = append(out.Requirements, JSONRequirement{
			ID: q.ID, Level: string(q.Level), Area: q.Area, Source: q.Source, Text: q.Text,
			Status: q.Status, Specs: nonNil(q.Specs),
		})
	}
	return out
}

// WriteJSON writes the machine-readable results.
func WriteJSON(w io.Writer, r *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(JSON(r)); err != nil {
		return fmt.Errorf("writing the JSON results: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}
