package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/suites/catalog"
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
	Attestations  []JSONAttestation `json:"attestations"`
}

// JSONAttestation is a requirement no test can check, as the payer attested
// it.
type JSONAttestation struct {
	ID       string `json:"id"`
	Text     string `json:"text"`
	Attested bool   `json:"attested"`
	By       string `json:"by,omitempty"`
	Date     string `json:"date,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

// JSONCause is a root cause of the verdict.
type JSONCause struct {
	Prerequisite string `json:"prerequisite"`
	What         string `json:"what"`
	Fix          string `json:"fix,omitempty"`
	Blocked      int    `json:"blocked"`
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
	// Added within schema version 1.
	Ended     time.Time         `json:"ended"`
	Operation string            `json:"operation"`
	Causes    []JSONCause       `json:"causes"`
	Inputs    map[string]string `json:"inputs"`
	Packages  []string          `json:"packages"`
	Missing   []string          `json:"missingPackages"`
	Server    *Server           `json:"server"`
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
	BlockedBy    string   `json:"blockedBy,omitempty"`
	// Resources are the exported resources found at fault.
	Resources []evidence.Resource `json:"resources,omitempty"`
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
	Links  []string `json:"links"`
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
	// NotChecked counts the binding checks not made offline, per value set.
	NotChecked map[string]int `json:"notCheckedOffline"`
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
			Ended: r.Meta.Ended.UTC(), Operation: r.Meta.Operation, Causes: []JSONCause{},
			Inputs: map[string]string{}, Packages: []string{}, Missing: nonNil(r.Meta.MissingPackages), Server: r.Meta.Server,
		},
		Attestations: []JSONAttestation{},
		Specs:        []JSONSpec{},
		Requirements: []JSONRequirement{},
		Validation: JSONValidation{
			Files: r.Validation.Files, Lines: r.Validation.Lines, Errors: r.Validation.Errors,
			Warnings: r.Validation.Warnings, ErrorsByType: nonNilMap(r.Validation.ErrorsByType),
			NotChecked: map[string]int{},
		},
	}
	for _, c := range r.Causes {
		out.Run.Causes = append(out.Run.Causes, JSONCause{Prerequisite: c.Prerequisite, What: c.What, Fix: c.Fix, Blocked: c.Blocked})
	}
	for _, in := range r.Meta.Inputs {
		out.Run.Inputs[in.Name] = in.Value
	}
	for _, p := range r.Meta.Packages {
		out.Run.Packages = append(out.Run.Packages, p.Name+"#"+p.Version)
	}
	for _, n := range r.Coverage.NotChecked {
		out.Validation.NotChecked[n.What] = n.Count
	}
	for _, a := range r.Attestations {
		out.Attestations = append(out.Attestations, JSONAttestation{ID: a.ID, Text: a.Text, Attested: a.Stated && a.Attested, By: a.By, Date: a.Date, Evidence: a.Evidence})
	}
	if r.Export != nil {
		out.Export = &JSONExport{Files: r.Export.Files, Bytes: r.Export.Bytes, ResourcesByType: nonNilMap(r.Resources)}
	}
	for _, s := range r.Specs {
		js := JSONSpec{
			ID: s.ID, Name: s.Name, Area: s.Area, Requirements: nonNil(s.Requirements), Level: s.Level,
			State: s.State, Location: s.Location, FailedAt: s.FailedAt, DurationMS: s.Duration.Milliseconds(),
			Steps: []string{}, Exchanges: len(s.Exchanges), EvidenceFrom: s.SharedFrom,
			BlockedBy: s.BlockedBy, Resources: s.Resources,
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
			Status: q.Status, Specs: nonNil(q.Specs), Links: linkURLs(q.Links),
		})
	}
	return out
}

// WriteJSON writes the machine-readable results: the bytes whose SHA-256
// is Run.ResultsHash.
func WriteJSON(w io.Writer, r *Run) error {
	b, err := encodeJSON(r)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func encodeJSON(r *Run) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(JSON(r)); err != nil {
		return nil, fmt.Errorf("writing the JSON results: %w", err)
	}
	return buf.Bytes(), nil
}

// hashResults is the SHA-256 of the JSON results, "sha256:" and hex.
func hashResults(r *Run) string {
	b, err := encodeJSON(r)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func linkURLs(ls []catalog.Link) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.URL)
	}
	return out
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
