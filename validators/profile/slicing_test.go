package profile

import (
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// The shipped profiles slice only by value, pattern and type. These tests
// build profiles on base Patient that slice by exists and by profile, and
// with ordered slicing, to check those paths too.

// typeElements returns the snapshot elements of a data type rewritten to
// sit under an element (id and path prefixes replaced).
func typeElements(t *testing.T, reg *packages.Registry, typ, id, path string) []packages.ElementDefinition {
	t.Helper()
	sd, err := reg.StructureDefinition("http://hl7.org/fhir/StructureDefinition/" + typ)
	if err != nil || sd == nil {
		t.Fatalf("%s: %v", typ, err)
	}
	var out []packages.ElementDefinition
	for _, e := range sd.Snapshot.Element[1:] {
		e.ID = id + strings.TrimPrefix(e.ID, typ)
		e.Path = path + strings.TrimPrefix(e.Path, typ)
		out = append(out, e)
	}
	return out
}

// patientProfile returns base Patient with extra elements inserted after
// the element with id after.
func patientProfile(t *testing.T, reg *packages.Registry, url, after string, edit func(*packages.ElementDefinition), extra []packages.ElementDefinition) *packages.StructureDefinition {
	t.Helper()
	base, err := reg.StructureDefinition("http://hl7.org/fhir/StructureDefinition/Patient")
	if err != nil || base == nil {
		t.Fatal(err)
	}
	sd := *base
	sd.URL, sd.Version, sd.Derivation = url, "", "constraint"
	sd.BaseDefinition = base.URL
	var els []packages.ElementDefinition
	for _, e := range base.Snapshot.Element {
		if e.ID == after {
			edit(&e)
			els = append(els, e)
			els = append(els, extra...)
			continue
		}
		els = append(els, e)
	}
	sd.Snapshot.Element = els
	return &sd
}

// install compiles a definition into the validator as if it were loaded.
func install(t *testing.T, v *Validator, sd *packages.StructureDefinition) {
	t.Helper()
	p, err := compile(sd, v.exprs)
	if err != nil {
		t.Fatal(err)
	}
	s := &planSlot{p: p}
	s.once.Do(func() {})
	v.mu.Lock()
	v.plans[sd.URL] = s
	v.mu.Unlock()
}

func identifierSlice(t *testing.T, reg *packages.Registry, name string, min int, max string, periodMin int, periodMax string) []packages.ElementDefinition {
	id := "Patient.identifier:" + name
	slice := packages.ElementDefinition{ID: id, Path: "Patient.identifier", SliceName: name, Min: min, Max: max,
		Base: packages.ElementBase{Path: "Patient.identifier", Max: "*"}, Type: []packages.TypeRef{{Code: "Identifier"}}}
	kids := typeElements(t, reg, "Identifier", id, "Patient.identifier")
	for i := range kids {
		if kids[i].ID == id+".period" {
			kids[i].Min, kids[i].Max = periodMin, periodMax
		}
	}
	return append([]packages.ElementDefinition{slice}, kids...)
}

func TestExistsAndOrderedSlicing(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	const url = "http://example.org/StructureDefinition/patient-identifier-exists"
	extra := append(identifierSlice(t, reg, "withPeriod", 1, "1", 1, "1"), identifierSlice(t, reg, "noPeriod", 0, "*", 0, "0")...)
	install(t, v, patientProfile(t, reg, url, "Patient.identifier", func(e *packages.ElementDefinition) {
		e.Slicing = &packages.Slicing{Discriminator: []packages.Discriminator{{Type: "exists", Path: "period"}}, Rules: "closed", Ordered: true}
	}, extra))

	withP := `{"value": "a", "period": {"start": "2020-01-01"}}`
	noP := `{"value": "b"}`
	tests := []struct {
		name, identifiers, rule, contains string
	}{
		{"one of each, in order", `[` + withP + `,` + noP + `,` + noP + `]`, "", ""},
		{"the required slice missing", `[` + noP + `]`, "Patient.identifier:withPeriod", "minimum 1"},
		{"too many in a slice", `[` + withP + `,` + withP + `]`, "Patient.identifier:withPeriod", "maximum 1"},
		{"out of order", `[` + noP + `,` + withP + `]`, "Patient.identifier:withPeriod", "out of order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(`{"resourceType": "Patient", "identifier": ` + tc.identifiers + `}`)
			r := v.Validate(raw, url)
			if tc.rule == "" {
				if r.Errors() != 0 {
					t.Errorf("errors:\n%s", issueList(r.Issues))
				}
				return
			}
			if r.Errors() != 1 || r.Issues[0].Rule != tc.rule || !strings.Contains(r.Issues[0].Message, tc.contains) {
				t.Errorf("want one error on %s containing %q:\n%s", tc.rule, tc.contains, issueList(r.Issues))
			}
		})
	}
}

func TestProfileSlicing(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	const url = "http://example.org/StructureDefinition/patient-contained-org"
	const usOrg = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization"
	slice := packages.ElementDefinition{ID: "Patient.contained:usOrg", Path: "Patient.contained", SliceName: "usOrg", Min: 1, Max: "1",
		Base: packages.ElementBase{Path: "Resource.contained", Max: "*"}, Type: []packages.TypeRef{{Code: "Resource", Profile: []string{usOrg}}}}
	install(t, v, patientProfile(t, reg, url, "Patient.contained", func(e *packages.ElementDefinition) {
		e.Slicing = &packages.Slicing{Discriminator: []packages.Discriminator{{Type: "profile", Path: "$this"}}, Rules: "open"}
	}, []packages.ElementDefinition{slice}))

	// a US Core organization: active, name, an NPI identifier
	good := `{"resourceType": "Organization", "id": "o1", "active": true, "name": "Acme", "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}]}`
	bad := `{"resourceType": "Organization", "id": "o1", "name": "Acme"}`
	for _, tc := range []struct {
		name, org string
		errors    int
	}{{"a contained organization meeting the profile", good, 0}, {"one that does not", bad, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(`{"resourceType": "Patient", "contained": [` + tc.org + `], "managingOrganization": {"reference": "#o1"}}`)
			r := v.Validate(raw, url)
			if r.Errors() != tc.errors {
				t.Fatalf("%d errors, want %d:\n%s", r.Errors(), tc.errors, issueList(r.Issues))
			}
			if tc.errors == 1 && (r.Issues[0].Rule != "Patient.contained:usOrg" || r.Issues[0].Path != "Patient.contained") {
				t.Errorf("want the slice's minimum reported at Patient.contained: %s", r.Issues[0])
			}
		})
	}
}
