package profile

import (
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

func TestValidateInput(t *testing.T) {
	v := New(packagestest.Registry(t), Options{})
	tests := []struct {
		name, raw, path, rule, contains string
	}{
		{"invalid JSON", `{"resourceType": "Patient",`, "", "json", "invalid JSON"},
		{"not an object", `["Patient"]`, "", "json", "not a JSON object"},
		{"two documents", `{"resourceType": "Patient"} {}`, "", "json", "after"},
		{"no resourceType", `{"id": "x"}`, "", "Resource.resourceType", "no resourceType"},
		{"unknown resource type", `{"resourceType": "Patience"}`, "Patience", "Resource.resourceType", "unknown resource type"},
		{"duplicate property", `{"resourceType": "Patient", "gender": "male", "gender": "female"}`, "", "json", "more than once"},
		{"profile for a missing type", `{"resourceType": "Basic", "code": {"text": "x"}, "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]}}`,
			"Basic", "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient", "for Patient resources"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Validate([]byte(tc.raw))
			if r.Errors() != 1 {
				t.Fatalf("%d errors, want 1:\n%s", r.Errors(), issueList(r.Issues))
			}
			for _, is := range r.Issues {
				if is.Severity == validators.Error && (is.Path != tc.path || is.Rule != tc.rule || !strings.Contains(is.Message, tc.contains)) {
					t.Errorf("got %s, want path %q rule %q containing %q", is, tc.path, tc.rule, tc.contains)
				}
			}
		})
	}
}
