package r4

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		wantErrs int
		wantText string
	}{
		{"valid patient", `{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1970-01-02"}`, 0, ""},
		{"unknown element", `{"resourceType":"Patient","id":"p1","colour":"blue"}`, 1, "unknown field"},
		{"wrong primitive type", `{"resourceType":"Patient","id":"p1","active":"yes"}`, 1, "active"},
		{"bad date", `{"resourceType":"Patient","id":"p1","birthDate":"1970-13-40"}`, 1, ""},
		{"code outside required binding", `{"resourceType":"Patient","id":"p1","gender":"robot"}`, 1, ""},
		{"missing required element", `{"resourceType":"Observation","id":"o1","code":{"text":"x"}}`, 1, "status"},
		{"not json", `{"resourceType":`, 1, ""},
		{"unknown resource type", `{"resourceType":"Nonsense","id":"x"}`, 1, ""},
		// Parameters.parameter.resource is a whole resource (R4 types it
		// Resource); google/fhir/go alone reads it as an unknown field.
		{"resource in a parameter", `{"resourceType":"Parameters","parameter":[{"name":"a","resource":{"resourceType":"Patient","id":"x","gender":"female"}}]}`, 0, ""},
		{"resource in a part", `{"resourceType":"Parameters","parameter":[{"name":"a","part":[{"name":"b","resource":{"resourceType":"Coverage","id":"c","status":"active","beneficiary":{"reference":"Patient/1"},"payor":[{"reference":"Organization/o"}]}}]}]}`, 0, ""},
		{"error in a parameter's resource", `{"resourceType":"Parameters","parameter":[{"name":"a","part":[{"name":"b","resource":{"resourceType":"Patient","id":"x","gender":"robot"}}]}]}`, 1, "Parameters.parameter[0].part[0].resource.gender"},
		{"unknown element beside a parameter's resource", `{"resourceType":"Parameters","parameter":[{"name":"a","colour":"blue","resource":{"resourceType":"Patient","id":"x"}}]}`, 1, "unknown field"},
		{"nested too deeply", strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600), 1, "nested more than 512"},
	}
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Check([]byte(tt.raw))
			errs := 0
			var text strings.Builder
			for _, i := range got {
				if i.Severity.String() == "error" {
					errs++
				}
				text.WriteString(i.String() + "\n")
			}
			if (tt.wantErrs == 0) != (errs == 0) {
				t.Fatalf("got %d errors, want %d:\n%s", errs, tt.wantErrs, text.String())
			}
			if tt.wantText != "" && !strings.Contains(text.String(), tt.wantText) {
				t.Errorf("issues do not mention %q:\n%s", tt.wantText, text.String())
			}
		})
	}
}
