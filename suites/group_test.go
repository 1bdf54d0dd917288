package suites

import (
	"encoding/json"
	"strings"
	"testing"
)

const goodATRGroup = `{
  "resourceType": "Group", "id": "g1", "meta": {"lastUpdated": "2026-01-01T00:00:00Z"},
  "extension": [{"url": "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-attributionListStatus", "valueCode": "final"}],
  "identifier": [
    {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1508843201"},
    {"system": "urn:oid:2.16.840.1.113883.4.4", "value": "810000000"}
  ],
  "type": "person", "actual": true,
  "characteristic": [{"code": {"coding": [{"system": "urn:x", "code": "vbc"}]}, "valueBoolean": true, "exclude": false}],
  "managingEntity": {"reference": "Organization/payer"},
  "member": [{"entity": {"reference": "Patient/p1"}}, {"entity": {"reference": "https://payer.example/fhir/Patient/p2"}}]
}`

// TestATRProblems shows each constraint of the ATR group shape is noticed
// on its own, and a conformant Group has none.
func TestATRProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		want string // a fragment of the one problem expected; "" = none
	}{
		{"conformant", func(map[string]any) {}, ""},
		{"no lastUpdated", func(m map[string]any) { delete(m, "meta") }, "meta.lastUpdated"},
		{"type animal", func(m map[string]any) { m["type"] = "animal" }, "type"},
		{"actual false", func(m map[string]any) { m["actual"] = false }, "actual"},
		{"actual missing", func(m map[string]any) { delete(m, "actual") }, "actual"},
		{"no managingEntity", func(m map[string]any) { delete(m, "managingEntity") }, "managingEntity"},
		{"no status", func(m map[string]any) { delete(m, "extension") }, "appears 0 times"},
		{"bad status", func(m map[string]any) {
			m["extension"].([]any)[0].(map[string]any)["valueCode"] = "closed"
		}, "draft, open or final"},
		{"no npi or tin", func(m map[string]any) { delete(m, "identifier") }, "no npi"},
		{"npi not ten digits", func(m map[string]any) {
			m["identifier"].([]any)[0].(map[string]any)["value"] = "12345"
		}, "ten digits"},
		{"two tin", func(m map[string]any) {
			m["identifier"] = append(m["identifier"].([]any), map[string]any{"system": systemTIN, "value": "1"})
		}, "0..1"},
		{"no member", func(m map[string]any) { delete(m, "member") }, "no member"},
		{"member not a Patient", func(m map[string]any) {
			m["member"].([]any)[1].(map[string]any)["entity"] = map[string]any{"reference": "Practitioner/x"}
		}, "member[1]"},
		{"member without entity", func(m map[string]any) {
			delete(m["member"].([]any)[0].(map[string]any), "entity")
		}, "member[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(goodATRGroup), &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			raw, _ := json.Marshal(m)
			var g atrGroup
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatal(err)
			}
			p := atrProblems(g)
			switch {
			case tc.want == "" && len(p) > 0:
				t.Errorf("problems in a conformant Group: %q", p)
			case tc.want != "" && (len(p) != 1 || !strings.Contains(p[0], tc.want)):
				t.Errorf("problems %q, want exactly one mentioning %q", p, tc.want)
			}
		})
	}
}

func TestIsPatientReference(t *testing.T) {
	for ref, want := range map[string]bool{
		"Patient/p1":                        true,
		"https://h/fhir/Patient/p1":         true,
		"Patient/p1/_history/2":             true,
		"Patient/":                          false,
		"Practitioner/p1":                   false,
		"RelatedPatient/p1":                 false,
		"":                                  false,
		"urn:uuid:0f1e2d3c-Patient/p1-fake": false,
		"https://h/fhir/NotPatient/p1":      false,
	} {
		if got := isPatientReference(ref); got != want {
			t.Errorf("isPatientReference(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestCharacteristicToken(t *testing.T) {
	var g atrGroup
	if err := json.Unmarshal([]byte(goodATRGroup), &g); err != nil {
		t.Fatal(err)
	}
	if got := characteristicToken(g); got != "urn:x|vbc" {
		t.Errorf("characteristicToken = %q, want urn:x|vbc", got)
	}
	if got := characteristicToken(atrGroup{}); got != "" {
		t.Errorf("characteristicToken of a Group without characteristic = %q", got)
	}
}
