package profile

import (
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestStructuralMarks checks how the engine sorts errors found in one walk
// over a profile: a breach of base R4 is structural, a breach of what the
// profile narrows is not, whichever definition's element the walk was on.
func TestStructuralMarks(t *testing.T) {
	v := New(packagestest.Registry(t), Options{})
	const smoking = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-smokingstatus"
	obs := func(fields string) string {
		return `{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"social-history"}]}],` +
			`"code":{"coding":[{"system":"http://loinc.org","code":"72166-2"}]},"subject":{"reference":"Patient/p1"},"issued":"2020-01-01T10:00:00Z",` + fields + `}`
	}
	value := `"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"449868002"}]}`
	tests := []struct {
		name       string
		raw        string
		path       string // of the error
		contains   string // in its message
		structural bool
	}{
		{"a status outside the profile's binding, inside R4's", strings.Replace(obs(value), `"final"`, `"preliminary"`, 1),
			"Observation.status", "us-core-observation-smoking-status-status", false},
		{"a status outside R4's binding", strings.Replace(obs(value), `"final"`, `"robot"`, 1),
			"Observation.status", "ValueSet/observation-status", true},
		{"a value type R4 allows and the profile does not", obs(`"valueString":"never"`),
			"Observation.valueString", "type String is not allowed", false},
		{"a value type R4 does not know", obs(value + `,"valueColour":"blue"`),
			"Observation.valueColour", "type Colour is not allowed", true},
		{"a subject R4 allows and the profile does not", strings.Replace(obs(value), "Patient/p1", "Group/g1", 1),
			"Observation.subject.reference", "reference to a Group", false},
		{"a subject R4 does not allow", strings.Replace(obs(value), "Patient/p1", "Medication/m1", 1),
			"Observation.subject.reference", "reference to a Medication", true},
		{"an element the profile requires, R4 does not", strings.Replace(obs(value), `"subject":{"reference":"Patient/p1"},`, "", 1),
			"Observation.subject", "missing required element subject", false},
		{"an element R4 requires", strings.Replace(obs(value), `"status":"final",`, "", 1),
			"Observation.status", "missing required element status", true},
		{"an unknown element", obs(value + `,"colour":"blue"`),
			"Observation.colour", "unknown element", true},
		{"a malformed primitive", strings.Replace(obs(value), "2020-01-01T10:00:00Z", "2020-02-30T10:00:00Z", 1),
			"Observation.issued", "not a valid instant", true},
		{"an empty string", obs(value + `,"language":""`),
			"Observation.language", "empty string", true},
		{"an empty array", obs(value + `,"note":[]`),
			"Observation.note", "empty array", true},
		{"null", obs(value + `,"note":[null]`),
			"Observation.note[0]", "null is not a valid value", true},
		{"a single value where R4 repeats", obs(value + `,"note":{"text":"x"}`),
			"Observation.note", "must be an array", true},
		{"an array where R4 does not repeat", obs(value + `,"language":["en"]`),
			"Observation.language", "must not be an array", true},
		{"an array for a choice element", obs(value + `,"effectiveDateTime":["2020"]`),
			"Observation.effectiveDateTime", "found an array", true},
		{"_name of a complex element", obs(value + `,"_code":{"id":"x"}`),
			"Observation._code", "not a primitive element", true},
		{"a string over R4's 1 MiB", obs(value + `,"note":[{"text":"` + strings.Repeat("x", 1<<20+1) + `"}]`),
			"Observation.note[0].text", "at most 1048576", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.Validate([]byte(tt.raw), smoking)
			found := false
			for i, is := range r.Issues {
				if is.Severity != validators.Error || is.Path != tt.path || !strings.Contains(is.Message, tt.contains) {
					continue
				}
				found = true
				if r.Structural(i) != tt.structural {
					t.Errorf("%s: structural %v, want %v", is, r.Structural(i), tt.structural)
				}
			}
			if !found {
				t.Errorf("no error at %s saying %q:\n%s", tt.path, tt.contains, issueList(r.Issues))
			}
		})
	}
	t.Run("the example itself is clean", func(t *testing.T) {
		if r := v.Validate([]byte(obs(value)), smoking); r.Errors() > 0 {
			t.Errorf("errors:\n%s", issueList(r.Issues))
		}
	})
}

// TestPrimitiveWarnings: a string of whitespace only meets the string
// definition's regular expression; datatypes.html says strings SHOULD
// have non-whitespace content, a warning.
func TestPrimitiveWarnings(t *testing.T) {
	v := New(packagestest.Registry(t), Options{})
	r := v.Validate([]byte(`{"resourceType":"Basic","id":"b1","code":{"text":"   "}}`))
	if r.Errors() > 0 {
		t.Fatalf("errors:\n%s", issueList(r.Issues))
	}
	for _, is := range r.Issues {
		if is.Severity == validators.Warning && is.Path == "Basic.code.text" && strings.Contains(is.Message, "only whitespace") {
			return
		}
	}
	t.Errorf("no warning for a blank string:\n%s", issueList(r.Issues))
}

// TestExtensionValueByItsUnderscoreObject: ext-1 (extension or value, not
// both) counts a primitive value present only by its "_valueX" object, as
// FHIRPath's value.exists() does (R4's Bundle-v2-valuesets.json).
func TestExtensionValueByItsUnderscoreObject(t *testing.T) {
	v := New(packagestest.Registry(t), Options{})
	for _, tt := range []struct {
		ext  string
		fail bool
	}{
		{`{"url":"http://example.org/a","_valueString":{"extension":[{"url":"http://example.org/b","valueString":"x"}]}}`, false},
		{`{"url":"http://example.org/a","valueString":"x","extension":[{"url":"http://example.org/b","valueString":"y"}]}`, true},
		{`{"url":"http://example.org/a"}`, true},
	} {
		r := v.Validate([]byte(`{"resourceType":"Basic","id":"b1","code":{"text":"x"},"extension":[` + tt.ext + `]}`))
		failed := false
		for _, is := range r.Issues {
			failed = failed || is.Rule == "ext-1" && is.Severity == validators.Error
		}
		if failed != tt.fail {
			t.Errorf("%s: ext-1 failed %v, want %v\n%s", tt.ext, failed, tt.fail, issueList(r.Issues))
		}
	}
}
