package reference

import (
	"encoding/json"
	"testing"
)

// TestMatchToken covers the token shapes search matches: codes, Codings,
// CodeableConcepts and Identifiers (system|value).
func TestMatchToken(t *testing.T) {
	const resource = `{
	  "status": "final",
	  "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
	  "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NPI"}]},
	                  "system": "http://hl7.org/fhir/sid/us-npi", "value": "1508843201"}]
	}`
	var r map[string]any
	if err := json.Unmarshal([]byte(resource), &r); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
		match      bool
	}{
		{"status", "final", true},
		{"status", "amended", false},
		{"code", "http://loinc.org|1234-5", true},
		{"code", "1234-5", true},
		{"code", "http://snomed.info/sct|1234-5", false},
		{"identifier", "http://hl7.org/fhir/sid/us-npi|1508843201", true},
		{"identifier", "1508843201", true},
		{"identifier", "urn:oid:2.16.840.1.113883.4.4|1508843201", false},
		// The identifier's type is not its value.
		{"identifier", "NPI", false},
	} {
		if got := matchToken(lookup(r, []string{tc.path}), tc.want); got != tc.match {
			t.Errorf("%s=%s: match %v, want %v", tc.path, tc.want, got, tc.match)
		}
	}
}
