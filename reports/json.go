package reports

import (
	"encoding/json"
	"io"
	"time"
)

// JSONSchemaVersion is the version of the results file's schema (README,
// "JSON results").
const JSONSchemaVersion = "1"

type jsonResults struct {
	SchemaVersion string            `json:"schemaVersion"`
	Run           jsonRun           `json:"run"`
	Specs         []jsonSpec        `json:"specs"`
	Requirements  []jsonRequirement `json:"requirements"`
	Validation    jsonValidation    `json:"validation"`
}

type jsonRun struct {
	Target      string    `json:"target"`
	Edition     string    `json:"edition"`
	ToolVersion string    `json:"toolVersion"`
	Started     time.Time `json:"started"`
	DurationMS  int64     `json:"durationMs"`
	Verdict     string    `json:"verdict"`
	Counts      Counts    `json:"counts"`
}

type jsonSpec struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Area         string   `json:"area"`
	Requirements []string `json:"requirements"`
	Level        string   `json:"level"`
	State        string   `json:"state"`
	Failure      string   `json:"failure,omitempty"`
	DurationMS   int64    `json:"durationMs"`
	Exchanges    int      `json:"exchanges"`
}

type jsonRequirement struct {
	ID     string   `json:"id"`
	Level  string   `json:"level"`
	Area   string   `json:"area"`
	Source string   `json:"source"`
	Text   string   `json:"text"`
	Status string   `json:"status"`
	Specs  []string `json:"specs"`
}

type jsonValidation struct {
	ResourcesByType map[string]int `json:"resourcesByType"`
	ErrorsByType    map[string]int `json:"errorsByType"`
}

// WriteJSON writes the machine-readable results.
func WriteJSON(w io.Writer, r *Run) error {
	out := jsonResults{
		SchemaVersion: JSONSchemaVersion,
		Run: jsonRun{
			Target: r.Meta.Target, Edition: r.Meta.Edition, ToolVersion: r.Meta.ToolVersion,
			Started: r.Meta.Started.UTC(), DurationMS: r.Meta.Duration.Milliseconds(),
			Verdict: r.Verdict, Counts: r.Counts,
		},
		Specs:        []jsonSpec{},
		Requirements: []jsonRequirement{},
		Validation:   jsonValidation{ResourcesByType: r.Resources, ErrorsByType: r.ValidationErrors},
	}
	for _, s := range r.Specs {
		out.Specs = append(out.Specs, jsonSpec{
			ID: s.ID, Name: s.Name, Area: s.Area, Requirements: nonNil(s.Requirements), Level: s.Level,
			State: s.State, Failure: s.Failure, DurationMS: s.Duration.Milliseconds(), Exchanges: len(s.Exchanges),
		})
	}
	for _, q := range r.Requirements {
		out.Requirements = append(out.Requirements, jsonRequirement{
			ID: q.ID, Level: string(q.Level), Area: q.Area, Source: q.Source, Text: q.Text, Status: q.Status, Specs: nonNil(q.Specs),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
