package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// exampleStore reads shipped examples by package and file name, once.
type exampleStore struct {
	reg  *packages.Registry
	mu   sync.Mutex
	byID map[string]map[string][]byte // package name -> file -> JSON
}

func (s *exampleStore) get(t *testing.T, pkg, file string) map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	files, ok := s.byID[pkg]
	if !ok {
		files = map[string][]byte{}
		if err := s.reg.WalkExamples(pkg, func(ex packages.Example) error {
			files[ex.File] = ex.Raw
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s.byID[pkg] = files
	}
	raw, ok := files[file]
	if !ok {
		t.Fatalf("example %s %s not found", pkg, file)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at walks a dotted path ("item.0.adjudication") to the parent of its last
// step and returns the parent and the step.
func at(t *testing.T, root any, path string) (any, string) {
	t.Helper()
	steps := strings.Split(path, ".")
	cur := root
	for _, s := range steps[:len(steps)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[s]
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i >= len(c) {
				t.Fatalf("path %s: bad index %s", path, s)
			}
			cur = c[i]
		default:
			t.Fatalf("path %s: cannot step into %T at %s", path, cur, s)
		}
	}
	return cur, steps[len(steps)-1]
}

type mutation func(t *testing.T, r map[string]any)

// set replaces (or adds) the value at a path.
func set(path string, v any) mutation {
	return func(t *testing.T, r map[string]any) {
		parent, last := at(t, r, path)
		switch p := parent.(type) {
		case map[string]any:
			p[last] = v
		case []any:
			i, _ := strconv.Atoi(last)
			p[i] = v
		default:
			t.Fatalf("set %s: parent is %T", path, parent)
		}
	}
}

// del removes the property at a path.
func del(path string) mutation {
	return func(t *testing.T, r map[string]any) {
		parent, last := at(t, r, path)
		p, ok := parent.(map[string]any)
		if !ok {
			t.Fatalf("del %s: parent is %T", path, parent)
		}
		if _, ok := p[last]; !ok {
			t.Fatalf("del %s: nothing there", path)
		}
		delete(p, last)
	}
}

// appendTo appends a value to the array at a path.
func appendTo(path string, v any) mutation {
	return func(t *testing.T, r map[string]any) {
		parent, last := at(t, r, path)
		p := parent.(map[string]any)
		arr, _ := p[last].([]any)
		p[last] = append(arr, v)
	}
}

// dup appends a copy of item i of the array at path.
func dup(path string, i int) mutation {
	return func(t *testing.T, r map[string]any) {
		parent, last := at(t, r, path)
		p := parent.(map[string]any)
		arr := p[last].([]any)
		b, _ := json.Marshal(arr[i])
		var c any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&c); err != nil {
			t.Fatal(err)
		}
		p[last] = append(arr, c)
	}
}

// js decodes a JSON literal for use in mutations.
func js(s string) any {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		panic(fmt.Sprintf("bad test JSON %s: %v", s, err))
	}
	return v
}

const (
	carin    = "hl7.fhir.us.carin-bb"
	uscore   = "hl7.fhir.us.core"
	pdex     = "hl7.fhir.us.davinci-pdex"
	pdex21   = "hl7.fhir.us.davinci-pdex.r4"
	inpNF    = "example/ExplanationOfBenefit-EOBInpatientNonFinancial1.json"
	inpFin   = "example/ExplanationOfBenefit-EOBInpatient1.json"
	profNF   = "example/ExplanationOfBenefit-EOBProfessionalNonFinancial1.json"
	c4bbPat  = "example/Patient-Patient1.json"
	c4bbCov  = "example/Coverage-Coverage1.json"
	c4bbPrac = "example/Practitioner-PractitionerDentalProvider1.json"
)

// brokenCase is one deliberately broken resource: a valid shipped example
// with one thing broken, and the one issue that must come of it.
type brokenCase struct {
	name     string
	pkg      string
	file     string
	mutate   []mutation
	profiles []string // asked for besides the claimed ones
	path     string
	rule     string
	warn     bool   // the issue is a warning (and there must be no error)
	contains string // a word the message must contain
	// notChecked: the issue is a check not made here, for the summary,
	// naming this canonical
	notChecked string
}

func brokenCases() []brokenCase {
	return []brokenCase{
		// cardinality
		{name: "required element missing", pkg: carin, file: inpNF, mutate: []mutation{del("billablePeriod")},
			path: "ExplanationOfBenefit.billablePeriod", rule: "ExplanationOfBenefit.billablePeriod", contains: "minimum 1"},
		{name: "required nested element missing", pkg: carin, file: inpNF, mutate: []mutation{del("billablePeriod.start")},
			path: "ExplanationOfBenefit.billablePeriod.start", rule: "ExplanationOfBenefit.billablePeriod.start", contains: "minimum 1"},
		{name: "profile tightens max below the base", pkg: carin, file: c4bbCov, mutate: []mutation{dup("payor", 0)},
			path: "Coverage.payor", rule: "Coverage.payor", contains: "maximum 1"},
		{name: "non-financial: item.adjudication.amount (max 0)", pkg: carin, file: profNF,
			mutate: []mutation{set("item.0.adjudication.0.amount", js(`{"value": 10, "currency": "USD"}`))},
			path:   "ExplanationOfBenefit.item[0].adjudication[0].amount", rule: "ExplanationOfBenefit.item.adjudication:benefitpaymentstatus.amount", contains: "max 0"},
		{name: "non-financial: total (max 0)", pkg: carin, file: inpNF,
			mutate: []mutation{set("total", js(`[{"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": "submitted"}]}, "amount": {"value": 10, "currency": "USD"}}]`))},
			path:   "ExplanationOfBenefit.total[0]", rule: "ExplanationOfBenefit.total", contains: "max 0"},
		{name: "non-financial: payment.amount (max 0)", pkg: carin, file: inpNF,
			mutate: []mutation{set("payment", js(`{"amount": {"value": 10, "currency": "USD"}}`))},
			path:   "ExplanationOfBenefit.payment.amount", rule: "ExplanationOfBenefit.payment.amount", contains: "max 0"},
		{name: "non-financial: item.net (max 0)", pkg: carin, file: inpNF,
			mutate: []mutation{set("item.0.net", js(`{"value": 10, "currency": "USD"}`))},
			path:   "ExplanationOfBenefit.item[0].net", rule: "ExplanationOfBenefit.item.net", contains: "max 0"},

		// types and choice types
		{name: "choice type not allowed", pkg: carin, file: c4bbPat, mutate: []mutation{set("deceasedString", "yes")},
			path: "Patient.deceasedString", rule: "Patient.deceased[x]", contains: "not allowed"},
		{name: "choice type narrowed in a slice (timing[x] of clmrecvddate is a date)", pkg: carin, file: inpNF,
			mutate: []mutation{del("supportingInfo.1.timingDate"), set("supportingInfo.1.timingPeriod", js(`{"start": "2011-05-30"}`))},
			path:   "ExplanationOfBenefit.supportingInfo[1].timingPeriod", rule: "ExplanationOfBenefit.supportingInfo:clmrecvddate.timing[x]", contains: "not allowed"},
		{name: "slice requires its choice value (clmrecvddate.timing[x] 1..1)", pkg: carin, file: inpNF,
			mutate: []mutation{del("supportingInfo.1.timingDate")},
			path:   "ExplanationOfBenefit.supportingInfo[1].timing[x]", rule: "ExplanationOfBenefit.supportingInfo:clmrecvddate.timing[x]", contains: "minimum 1"},
		{name: "object where a primitive belongs", pkg: carin, file: c4bbPat, mutate: []mutation{set("gender", js(`{"code": "male"}`))},
			path: "Patient.gender", rule: "Patient.gender", contains: "JSON string"},
		{name: "primitive where an object belongs", pkg: carin, file: inpNF, mutate: []mutation{set("patient", "Patient/Patient2")},
			path: "ExplanationOfBenefit.patient", rule: "ExplanationOfBenefit.patient", contains: "JSON object"},
		{name: "unknown element", pkg: carin, file: c4bbPat, mutate: []mutation{set("favouriteColour", "blue")},
			path: "Patient.favouriteColour", rule: "Patient", contains: "not allowed"},
		{name: "unknown nested element", pkg: carin, file: inpNF, mutate: []mutation{set("billablePeriod.middle", "2019-05-01")},
			path: "ExplanationOfBenefit.billablePeriod.middle", rule: "ExplanationOfBenefit.billablePeriod", contains: "not allowed"},
		{name: "repeating element not an array", pkg: carin, file: c4bbPat, mutate: []mutation{set("name", js(`{"family": "Doe"}`))},
			path: "Patient.name", rule: "Patient.name", contains: "must be an array"},
		{name: "single element given as an array", pkg: carin, file: c4bbPat, mutate: []mutation{set("gender", js(`["male"]`))},
			path: "Patient.gender", rule: "Patient.gender", contains: "must not be an array"},

		// primitive formats
		{name: "bad date", pkg: carin, file: c4bbPat, mutate: []mutation{set("birthDate", "1943-02-30")},
			path: "Patient.birthDate", rule: "Patient.birthDate", contains: "not a valid date"},
		{name: "dateTime without time zone", pkg: carin, file: inpNF, mutate: []mutation{set("created", "2019-11-02T00:00:00")},
			path: "ExplanationOfBenefit.created", rule: "ExplanationOfBenefit.created", contains: "dateTime"},
		{name: "instant without time", pkg: carin, file: inpNF, mutate: []mutation{set("meta.lastUpdated", "2019-12-12")},
			path: "ExplanationOfBenefit.meta.lastUpdated", rule: "ExplanationOfBenefit.meta.lastUpdated", contains: "instant"},
		{name: "positiveInt zero", pkg: carin, file: inpNF, mutate: []mutation{set("item.0.sequence", js(`0`))},
			path: "ExplanationOfBenefit.item[0].sequence", rule: "ExplanationOfBenefit.item.sequence", contains: "positiveInt"},
		{name: "boolean as a string", pkg: carin, file: inpNF, mutate: []mutation{set("insurance.0.focal", "true")},
			path: "ExplanationOfBenefit.insurance[0].focal", rule: "ExplanationOfBenefit.insurance.focal", contains: "boolean"},
		{name: "id with a bad character", pkg: carin, file: c4bbPat, mutate: []mutation{set("id", "Patient 1")},
			path: "Patient.id", rule: "Patient.id", contains: "id"},
		{name: "code with trailing whitespace", pkg: carin, file: inpNF, mutate: []mutation{set("status", "active ")},
			path: "ExplanationOfBenefit.status", rule: "ExplanationOfBenefit.status", contains: "whitespace"},
		{name: "empty string", pkg: carin, file: c4bbPat, mutate: []mutation{set("name.0.family", "")},
			path: "Patient.name[0].family", rule: "Patient.name.family", contains: "empty"},
		{name: "uri with a space", pkg: carin, file: c4bbPat, mutate: []mutation{set("identifier.0.system", "http://example.org/a b")},
			path: "Patient.identifier[0].system", rule: "Patient.identifier:memberid.system", contains: "whitespace"},
		{name: "decimal as a string", pkg: uscore, file: "example/Observation-bmi.json", mutate: []mutation{set("valueQuantity.value", "16.2")},
			path: "Observation.valueQuantity.value", rule: "Quantity.value", contains: "JSON number"},

		// fixed and pattern values
		{name: "pattern on a code (use = claim)", pkg: carin, file: inpNF, mutate: []mutation{set("use", "predetermination")},
			path: "ExplanationOfBenefit.use", rule: "ExplanationOfBenefit.use", contains: "pattern"},
		{name: "pattern on a CodeableConcept (type = institutional)", pkg: carin, file: inpNF,
			mutate: []mutation{set("type.coding.0.code", "professional")},
			path:   "ExplanationOfBenefit.type", rule: "ExplanationOfBenefit.type", contains: "pattern"},
		{name: "fixed value (BMI unit system, profile asked for)", pkg: uscore, file: "example/Observation-bmi.json",
			mutate: []mutation{set("valueQuantity.system", "http://example.org/units")}, profiles: []string{"http://hl7.org/fhir/StructureDefinition/bmi"},
			path: "Observation.valueQuantity.system", rule: "Observation.value[x]:valueQuantity.system", contains: "fixed"},

		// slicing
		{name: "required slice missing (supportingInfo:admissionperiod)", pkg: carin, file: inpNF,
			mutate: []mutation{set("supportingInfo", js(`[{"sequence": 3, "category": {"coding": [{"system": "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType", "code": "clmrecvddate"}]}, "timingDate": "2011-05-30"}]`))},
			path:   "ExplanationOfBenefit.supportingInfo", rule: "ExplanationOfBenefit.supportingInfo:admissionperiod", contains: "minimum 1"},
		{name: "slice max exceeded (identifier:uniqueclaimid)", pkg: carin, file: inpNF, mutate: []mutation{dup("identifier", 0)},
			path: "ExplanationOfBenefit.identifier", rule: "ExplanationOfBenefit.identifier:uniqueclaimid", contains: "maximum 1"},
		{name: "slice content checked (adjudication:benefitpaymentstatus needs a reason)", pkg: carin, file: inpNF,
			mutate: []mutation{del("adjudication.0.reason")},
			path:   "ExplanationOfBenefit.adjudication[0].reason", rule: "ExplanationOfBenefit.adjudication:benefitpaymentstatus.reason", contains: "minimum 1"},
		{name: "slice by binding (total:adjudicationamounttype) unmatched", pkg: carin, file: inpFin,
			mutate: []mutation{set("total", js(`[{"category": {"coding": [{"system": "http://example.org/other", "code": "x"}]}, "amount": {"value": 1, "currency": "USD"}}]`))},
			path:   "ExplanationOfBenefit.total", rule: "ExplanationOfBenefit.total:adjudicationamounttype", contains: "minimum 1"},
		{name: "closed slicing (pdex-priorauthorization item.adjudication)", pkg: pdex, file: "example/ExplanationOfBenefit-PDexPriorAuth1.json",
			mutate: []mutation{set("item.0.adjudication.0.category", js(`{"coding": [{"system": "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PDexPayerAdjudicationStatus", "code": "innetwork"}]}`))},
			path:   "ExplanationOfBenefit.item[0].adjudication[0]", rule: "ExplanationOfBenefit.item.adjudication", contains: "closed"},
		{name: "open-at-end slicing: an unmatched part before the slices", pkg: pdex21, file: "example/Parameters-payer-multi-member-match-in.json",
			mutate: []mutation{func(t *testing.T, r map[string]any) {
				parts := r["parameter"].([]any)[0].(map[string]any)
				old := parts["part"].([]any)
				parts["part"] = append([]any{js(`{"name": "Other", "valueString": "x"}`)}, old[:3]...)
			}},
			path: "Parameters.parameter[0].part[1]", rule: "Parameters.parameter.part", contains: "open at end"},
		{name: "required slice missing (vital signs category VSCat)", pkg: uscore, file: "example/Observation-bmi.json",
			mutate: []mutation{set("category.0.coding.0.code", "laboratory")},
			path:   "Observation.category", rule: "Observation.category:VSCat", contains: "minimum 1"},
		{name: "closed type slice (BP value[x]:valueQuantity max 0)", pkg: uscore, file: "example/Observation-blood-pressure.json",
			mutate: []mutation{set("valueQuantity", js(`{"value": 120, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}`))}, profiles: []string{"http://hl7.org/fhir/StructureDefinition/bp"},
			path: "Observation.value[x]", rule: "Observation.value[x]:valueQuantity", contains: "maximum 0"},

		// extensions
		{name: "extension value of a type its definition forbids", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{set("extension.2", js(`{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueString": "F"}`))},
			path:   "Patient.extension[2].valueString", rule: "Extension.value[x]", contains: "not allowed"},
		{name: "extension cardinality (two birthsex)", pkg: uscore, file: "example/Patient-example.json", mutate: []mutation{dup("extension", 2)},
			path: "Patient.extension", rule: "Patient.extension:birthsex", contains: "maximum 1"},
		{name: "complex extension missing its required part (race ombCategory text)", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{set("extension.0.extension", js(`[{"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3"}}]`))},
			path:   "Patient.extension[0].extension", rule: "Extension.extension:text", contains: "minimum 1"},
		{name: "extension with both a value and extensions (ext-1)", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{set("extension.2.extension", js(`[{"url": "part", "valueString": "y"}]`))},
			path:   "Patient.extension[2]", rule: "ext-1", contains: "ext-1"},
		{name: "unknown modifier extension", pkg: carin, file: c4bbPat,
			mutate: []mutation{set("modifierExtension", js(`[{"url": "http://example.org/unknown-modifier", "valueBoolean": true}]`))},
			path:   "Patient.modifierExtension[0]", rule: "Patient.modifierExtension", contains: "cannot be ignored"},
		{name: "extension without url", pkg: carin, file: c4bbPat, mutate: []mutation{set("extension", js(`[{"valueString": "x"}]`))},
			path: "Patient.extension[0].url", rule: "Extension.url", contains: "minimum 1"},
		{name: "extension with a relative url", pkg: carin, file: c4bbPat, mutate: []mutation{set("extension", js(`[{"url": "race", "valueString": "x"}]`))},
			path: "Patient.extension[0]", rule: "Patient.extension", contains: "absolute"},

		// bindings
		{name: "required binding on a code", pkg: carin, file: c4bbPat, mutate: []mutation{set("gender", "mail")},
			path: "Patient.gender", rule: "Patient.gender", contains: "required binding"},
		{name: "required binding on a CodeableConcept", pkg: carin, file: inpNF,
			mutate: []mutation{set("diagnosis.0.type.0.coding.0.code", "bogus")},
			path:   "ExplanationOfBenefit.diagnosis[0].type[0]", rule: "ExplanationOfBenefit.diagnosis.type", contains: "required binding"},
		{name: "required binding with no coding at all", pkg: carin, file: inpNF,
			mutate: []mutation{set("related", js(`[{"relationship": {"text": "prior"}, "reference": {"value": "X1"}}]`))},
			path:   "ExplanationOfBenefit.related[0].relationship", rule: "ExplanationOfBenefit.related.relationship", contains: "no code"},
		{name: "extensible binding miss is a warning", pkg: carin, file: c4bbPat,
			mutate: []mutation{set("maritalStatus", js(`{"coding": [{"system": "http://example.org/marital", "code": "x"}]}`))},
			path:   "Patient.maritalStatus", rule: "Patient.maritalStatus", warn: true, contains: "extensible"},
		{name: "required binding to a value set that cannot be expanded is counted as not checked", pkg: carin, file: "example/ExplanationOfBenefit-EOBProfessionalNonFinancial2.json",
			mutate: []mutation{set("careTeam.0.qualification", js(`{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "207Q00000X"}]}`))},
			path:   "ExplanationOfBenefit.careTeam[0].qualification", rule: "ExplanationOfBenefit.careTeam.qualification", warn: true, contains: "required binding not checked",
			notChecked: "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.114222.4.11.1066"},
		{name: "required binding to a code system checked by syntax (BCP 13 media type)", pkg: carin, file: c4bbPat,
			mutate: []mutation{set("photo", js(`[{"contentType": "image jpeg", "data": "AAAA"}]`))},
			path:   "Patient.photo[0].contentType", rule: "Attachment.contentType", contains: "required binding"},
		{name: "required binding to a code system kept in the project (ISO 4217 currency)", pkg: carin, file: inpFin,
			mutate: []mutation{set("total.0.amount.currency", "XYZ")},
			path:   "ExplanationOfBenefit.total[0].amount.currency", rule: "Money.currency", contains: "required binding"},
		{name: "extension definition by url: value type checked", pkg: carin, file: c4bbPat,
			mutate: []mutation{set("extension", js(`[{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueString": "Paris"}]`))},
			path:   "Patient.extension[0].valueString", rule: "Extension.value[x]", contains: "not allowed"},
		{name: "extension not loaded is a warning", pkg: carin, file: c4bbPat,
			mutate: []mutation{set("extension", js(`[{"url": "http://example.org/fhir/StructureDefinition/unknown", "valueString": "x"}]`))},
			path:   "Patient.extension[0]", rule: "Patient.extension", warn: true, contains: "not loaded"},

		// invariants
		{name: "invariant with resolve(): ctm-1 (on behalf of needs a Practitioner member)", pkg: uscore, file: "example/CareTeam-example.json",
			mutate: []mutation{set("participant.2.onBehalfOf", js(`{"reference": "Organization/acme-lab"}`))},
			path:   "CareTeam.participant[2]", rule: "ctm-1", contains: "ctm-1"},
		{name: "invariant: per-1 (period start after end)", pkg: carin, file: inpNF, mutate: []mutation{set("billablePeriod.end", "2018-01-01")},
			path: "ExplanationOfBenefit.billablePeriod", rule: "per-1", contains: "per-1"},
		{name: "invariant: ele-1 (empty element)", pkg: carin, file: c4bbPat, mutate: []mutation{set("maritalStatus", js(`{}`))},
			path: "Patient.maritalStatus", rule: "ele-1", contains: "ele-1"},
		{name: "invariant: ref-1 (local reference without contained resource)", pkg: carin, file: inpNF,
			mutate: []mutation{set("patient", js(`{"reference": "#p1"}`))},
			path:   "ExplanationOfBenefit.patient", rule: "ref-1", contains: "ref-1"},
		{name: "invariant: dom-3 (contained resource not referenced)", pkg: carin, file: c4bbPat,
			mutate: []mutation{set("contained", js(`[{"resourceType": "Organization", "id": "o1", "name": "X"}]`))},
			path:   "Patient", rule: "dom-3", contains: "dom-3"},
		{name: "invariant: us-core-8 (name without family or given)", pkg: uscore, file: "example/Patient-example.json",
			mutate: []mutation{set("name", js(`[{"text": "Amy Shaw"}]`))},
			path:   "Patient.name[0]", rule: "us-core-8", contains: "us-core-8"},
		{name: "invariant: meta.profile version (C4BB)", pkg: carin, file: c4bbPat,
			mutate: []mutation{set("meta.profile", js(`["http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient"]`))},
			path:   "Patient", rule: "patient-meta-profile-version", contains: "patient-meta-profile-version"},
		{name: "invariant: vs-2 (vital sign without value)", pkg: uscore, file: "example/Observation-bmi.json",
			mutate: []mutation{del("valueQuantity")},
			path:   "Observation", rule: "vs-2", contains: "vs-2"},

		// references
		{name: "reference to a resource type the profile does not allow", pkg: carin, file: inpNF,
			mutate: []mutation{set("patient.reference", "Practitioner/Practitioner1")},
			path:   "ExplanationOfBenefit.patient.reference", rule: "ExplanationOfBenefit.patient", contains: "not allowed"},
		{name: "reference to a profiled type, wrong type (insurer is a C4BB-Organization)", pkg: carin, file: inpNF,
			mutate: []mutation{set("insurer.reference", "Patient/Patient2")},
			path:   "ExplanationOfBenefit.insurer.reference", rule: "ExplanationOfBenefit.insurer", contains: "not allowed"},

		// profiles and resources
		{name: "claimed profile is for another resource type", pkg: carin, file: c4bbPrac,
			mutate: []mutation{set("meta.profile", js(`["http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.0.0"]`))},
			path:   "Practitioner", rule: "http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-Patient|2.0.0", contains: "for Patient resources"},
		{name: "error inside a contained resource", pkg: carin, file: inpNF,
			mutate: []mutation{set("contained", js(`[{"resourceType": "Patient", "id": "p1", "gender": "mail"}]`)), set("patient", js(`{"reference": "#p1"}`))},
			path:   "ExplanationOfBenefit.contained[0].gender", rule: "Patient.gender", contains: "required binding"},
		{name: "Bundle entry fullUrl does not match the resource", pkg: pdex, file: "example/Bundle-example-mtls-endpoint-bundle.json",
			mutate: []mutation{set("entry.0.fullUrl", "https://example.org/fhir/Endpoint/other")},
			path:   "Bundle.entry[0].fullUrl", rule: "Bundle.entry.fullUrl", contains: "does not match"},
		{name: "error inside a Bundle entry", pkg: pdex, file: "example/Bundle-example-mtls-endpoint-bundle.json",
			mutate: []mutation{set("entry.1.resource.status", "on")},
			path:   "Bundle.entry[1].resource.status", rule: "Endpoint.status", contains: "required binding"},
	}
}

func TestBrokenCorpus(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	store := &exampleStore{reg: reg, byID: map[string]map[string][]byte{}}
	cases := brokenCases()
	if len(cases) < 40 {
		t.Fatalf("only %d broken cases; the corpus needs at least 40", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := store.get(t, tc.pkg, tc.file)
			// the unbroken example must be clean, or the case proves nothing
			raw, _ := json.Marshal(res)
			if r := v.Validate(raw, tc.profiles...); r.Errors() > 0 {
				t.Fatalf("the example is not valid before breaking it: %v", r.Issues)
			}
			for _, m := range tc.mutate {
				m(t, res)
			}
			raw, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			r := v.Validate(raw, tc.profiles...)
			sev, want := validators.Error, 1
			if tc.warn {
				sev, want = validators.Warning, 0
			}
			var errs, matches []validators.Issue
			for _, is := range r.Issues {
				if is.Severity == validators.Error {
					errs = append(errs, is)
				}
				if is.Severity == sev && is.Path == tc.path && is.Rule == tc.rule && strings.Contains(is.Message, tc.contains) && is.NotChecked == tc.notChecked {
					matches = append(matches, is)
				}
			}
			if len(matches) != 1 || len(errs) != want {
				t.Errorf("want exactly one %s at %s [%s] (containing %q) and %d errors; got:\n%s", sev, tc.path, tc.rule, tc.contains, want, issueList(r.Issues))
			}
		})
	}
}

func issueList(issues []validators.Issue) string {
	var b strings.Builder
	for _, is := range issues {
		b.WriteString("  " + is.String() + "\n")
	}
	return b.String()
}
