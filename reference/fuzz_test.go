package reference

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParseParameters feeds arbitrary bodies through the kick-off's
// Parameters parser and validator. Every input must end as parameters
// that meet the edition's rules or as a client error (a *badRequest or a
// parse error, both answered 400); never a panic or another kind of error
// (which the handler would answer 500). Seeds: testdata/fuzz/FuzzParseParameters.
func FuzzParseParameters(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"exportType","valueCanonical":"hl7.fhir.us.davinci-pdex"},{"name":"exportMode","valueCode":"download"}]}`), false)
	ed, err := lookupEdition("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, lenient bool) {
		raw, err := parseParametersBody(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a parse error with no message")
			}
			return
		}
		p, err := validate(raw, ed, lenient, faults{})
		if err != nil {
			var br *badRequest
			if !errors.As(err, &br) || br.msg == "" {
				t.Fatalf("validate returned %T %v, not a client error", err, err)
			}
			return
		}
		if _, ok := ed.ExportTypes[p.ExportType]; !ok || !slices.Contains(ed.Modes, p.ExportMode) {
			t.Fatalf("accepted exportType %q exportMode %q", p.ExportType, p.ExportMode)
		}
		for _, typ := range p.Types {
			if !slices.Contains(exportableTypes, typ) {
				t.Fatalf("accepted _type %q", typ)
			}
		}
		for _, q := range p.TypeFilters {
			if _, err := parseTypeFilter(q); err != nil {
				t.Fatalf("accepted _typeFilter %q that does not parse: %v", q, err)
			}
		}
		for _, id := range p.Patients {
			if id == "" || strings.ContainsAny(id, "/?#") {
				t.Fatalf("accepted patient id %q", id)
			}
		}
		if p.Since != nil && p.Until != nil && p.Until.Before(*p.Since) {
			t.Fatalf("accepted _until %v before _since %v", p.Until, p.Since)
		}
		if !slices.Contains(append([]string{""}, outputFormats...), p.OutputFormat) {
			t.Fatalf("accepted _outputFormat %q", p.OutputFormat)
		}
		// A job stores its parameters as JSON and runs them again after a
		// restart: they must survive the round trip.
		b, err := json.Marshal(storedParams{Group: "g", Params: *p})
		if err != nil {
			t.Fatal(err)
		}
		var back storedParams
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalise(back.Params), normalise(*p)) {
			t.Fatalf("parameters changed through storage:\n%+v\n%+v", back.Params, *p)
		}
	})
}

// normalise makes times comparable with DeepEqual after a JSON round trip
// (which drops the monotonic reading and keeps UTC).
func normalise(p exportParams) exportParams {
	if p.Since != nil {
		s := p.Since.UTC()
		p.Since = &s
	}
	if p.Until != nil {
		u := p.Until.UTC()
		p.Until = &u
	}
	return p
}

// fuzzResources are resources a parsed _typeFilter is matched against.
var fuzzResources = []string{
	`{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"effectiveDateTime":"2024-05-07T13:26:07Z","meta":{"lastUpdated":"2024-05-12T06:21:43Z"}}`,
	`{"resourceType":"Observation","id":"o2","category":"not-a-list","effectivePeriod":{"start":"2024"},"valueQuantity":{"value":5,"system":"http://unitsofmeasure.org","code":"mg"}}`,
	`{"resourceType":"Condition","id":"c1","onsetDateTime":"2023-03-07","clinicalStatus":{"coding":[{"code":"active"}]},"identifier":[{"system":"urn:x","value":"42"}]}`,
	`{"resourceType":"ExplanationOfBenefit","id":"e1","use":"claim","created":"not a date","type":{"coding":[null,7,{"code":"oral"}]}}`,
	`{"resourceType":"Group","id":"g","identifier":[{"system":"http://hl7.org/fhir/sid/us-npi","value":"1508843201"}],"characteristic":[{"code":{"coding":[{"code":"pcp-panel"}]}}]}`,
}

// FuzzParseTypeFilter feeds arbitrary strings through the _typeFilter
// splitter and parser, matches what parses against sample resources, and
// through the kick-off query parser and the instant parser: no panic, and
// what is accepted is consistent. Seeds: testdata/fuzz/FuzzParseTypeFilter.
func FuzzParseTypeFilter(f *testing.F) {
	f.Add("Observation?category=laboratory&date=ge2024-01-01,Condition?clinical-status=active")
	var resources []map[string]any
	for _, r := range fuzzResources {
		var m map[string]any
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			f.Fatal(err)
		}
		resources = append(resources, m)
	}
	f.Fuzz(func(t *testing.T, q string) {
		parts := splitTypeFilters(q)
		if strings.Join(parts, ",") != q {
			t.Fatalf("splitting %q lost text: %q", q, parts)
		}
		for _, part := range parts {
			tf, err := parseTypeFilter(part)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(part, tf.Type+"?") || len(tf.criteria) == 0 {
				t.Fatalf("%q parsed as type %q with %d criteria", part, tf.Type, len(tf.criteria))
			}
			for _, res := range resources {
				tf.match(res)
			}
		}
		if ps, err := parseQuery(q); err == nil {
			for _, p := range ps {
				if len(p.value) > maxValueLength {
					t.Fatalf("query parameter %s longer than the limit", p.name)
				}
			}
		}
		if ts, err := parseInstant(q); err == nil {
			if _, err := parseInstant(ts.Format("2006-01-02T15:04:05.999999999Z07:00")); err != nil {
				t.Fatalf("instant %q parsed but its normal form does not: %v", q, err)
			}
		}
		patientID(q)
		matchDate([]any{"2024-05-07T13:26:07Z", "2024", 7}, q)
		matchToken([]any{map[string]any{"system": "s", "code": "c"}, "x", nil}, q)
	})
}
