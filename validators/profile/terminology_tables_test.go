package profile

import (
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// TestBuiltinSystems: value sets that include a whole code system no
// package carries are decided from the project's tables and syntax checks,
// both ways.
func TestBuiltinSystems(t *testing.T) {
	terms := newTerminology(packagestest.Registry(t))
	const r4 = "http://hl7.org/fhir/ValueSet/"
	tests := []struct {
		vs, system, code string
		in               bool
	}{
		{r4 + "currencies", "urn:iso:std:iso:4217", "USD", true},
		{r4 + "currencies", "urn:iso:std:iso:4217", "EUR", true},
		{r4 + "currencies", "urn:iso:std:iso:4217", "XYZ", false},
		{r4 + "currencies", "urn:iso:std:iso:4217", "usd", false},
		{"", "urn:iso:std:iso:3166", "US", true},
		{"", "urn:iso:std:iso:3166", "USA", true},
		{"", "urn:iso:std:iso:3166", "840", true},
		{"", "urn:iso:std:iso:3166", "QQ", false},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "mg/dL", true},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "kg/m2", true},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "mm[Hg]", true},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "/min", true},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "{beats}/min", true},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "10*3/uL", true},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "mg dL", false},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "mm[Hg", false},
		{r4 + "ucum-units", "http://unitsofmeasure.org", "mg//dL", false},
		{r4 + "all-languages", "urn:ietf:bcp:47", "en", true},
		{r4 + "all-languages", "urn:ietf:bcp:47", "en-US", true},
		{r4 + "all-languages", "urn:ietf:bcp:47", "zh-Hant-TW", true},
		{r4 + "all-languages", "urn:ietf:bcp:47", "es-419", true},
		{r4 + "all-languages", "urn:ietf:bcp:47", "e", false},
		{r4 + "all-languages", "urn:ietf:bcp:47", "en-", false},
		{r4 + "all-languages", "urn:ietf:bcp:47", "en_US", false},
		{r4 + "mimetypes", "urn:ietf:bcp:13", "application/fhir+json", true},
		{r4 + "mimetypes", "urn:ietf:bcp:13", "text/plain; charset=utf-8", true},
		{r4 + "mimetypes", "urn:ietf:bcp:13", "xml", false},
		{r4 + "mimetypes", "urn:ietf:bcp:13", "image jpeg", false},
	}
	for _, tc := range tests {
		vs := terms.valueSet(tc.vs)
		if tc.vs == "" {
			// no value set here includes all of ISO 3166 alone
			vs = terms.conceptSet(packages.ConceptSet{System: tc.system}, nil)
		}
		in, known := vs.hasCoding(tc.system, tc.code)
		if !known || in != tc.in {
			t.Errorf("%s has %s#%s = %v (known %v), want %v (%s)", tc.vs, tc.system, tc.code, in, known, tc.in, vs.why())
		}
		// elements of type code carry no system: the same answer
		if in, known := vs.hasCode(tc.code); !known || in != tc.in {
			t.Errorf("%s has bare code %s = %v (known %v), want %v", tc.vs, tc.code, in, known, tc.in)
		}
		if vs.bySystemOnly(tc.system, tc.code) {
			t.Errorf("%s: %s is checked here, not accepted by its system alone", tc.vs, tc.system)
		}
	}
	// LOINC is still accepted by its system alone, and said so.
	vs := terms.valueSet(r4 + "observation-codes")
	if in, known := vs.hasCoding("http://loinc.org", "0000-0"); !in || !known || !vs.bySystemOnly("http://loinc.org", "0000-0") {
		t.Errorf("observation-codes (all of LOINC): %v %v, by system only %v", in, known, vs.bySystemOnly("http://loinc.org", "0000-0"))
	}
}
