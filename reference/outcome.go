package reference

import (
	"encoding/json"
	"net/http"
)

// outcome builds a FHIR OperationOutcome with one issue.
func outcome(severity, code, diagnostics string) map[string]any {
	return map[string]any{
		"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{
			"severity":    severity,
			"code":        code,
			"diagnostics": diagnostics,
		}},
	}
}

// writeOutcome answers with an OperationOutcome, the FHIR way of saying what
// went wrong.
func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	severity := "error"
	if status >= 500 {
		severity = "fatal"
	}
	writeJSON(w, status, "application/fhir+json", outcome(severity, code, diagnostics))
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(body)
}
