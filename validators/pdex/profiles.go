package pdex

import (
	"encoding/json"
	"slices"
	"strings"
)

// Canonical bases of the IGs whose profiles Provider Access data meets.
const (
	carin  = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
	usCore = "http://hl7.org/fhir/us/core/StructureDefinition/"
	pdexSD = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/"
	hrex   = "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition/"
	coreSD = "http://hl7.org/fhir/StructureDefinition/"

	ProfilePriorAuth  = pdexSD + "pdex-priorauthorization"
	ProfileVitalSigns = coreSD + "vitalsigns"
)

// edition holds the versions of the IGs an edition of PDex builds on, as
// its package (sushi-config.yaml) names them.
type edition struct {
	carin, hrex, pdex string
	// carinEOB is the suffix of the CARIN claim EOB profiles: 2.0.0 (the
	// November 2023 draft, SPEC §6) names the NonFinancial ones of a CARIN
	// 2.0.0 build; 2.1.0 and 2.2.0 name CARIN's "Basis" ones (2.1.0
	// provider-access-api.md "Da Vinci Data Export Payload", 2.2.0
	// §pdex-75).
	carinEOB string
	// usCore lists the US Core versions clinical data may follow: 3.1.1 in
	// 2.0.0 (datamapping.md: "SHALL map ... to US Core v3.1.1"); 3.1.1,
	// 6.1.0 or 7.0.0 in 2.1.0 (SHOULD) and 2.2.0 (§pdex-74, SHALL).
	usCore []string
}

// editions are the PDex editions the project knows (SPEC §4, EDITIONS.md).
// CARIN 2.1.0 and 2.2.0, HRex 1.1.0 and 1.2.0, US Core 6.1.0 and 7.0.0 and
// PDex 2.2.0 have no package offline: their profiles are reported as not
// available offline, never passed and never failed.
var editions = map[string]edition{
	"2.0.0": {carin: "2.0.0", hrex: "1.0.0", pdex: "2.0.0", carinEOB: "NonFinancial", usCore: []string{"3.1.1"}},
	"2.1.0": {carin: "2.1.0", hrex: "1.1.0", pdex: "2.1.0", carinEOB: "Basis", usCore: []string{"3.1.1", "6.1.0", "7.0.0"}},
	"2.2.0": {carin: "2.2.0", hrex: "1.2.0", pdex: "2.2.0", carinEOB: "Basis", usCore: []string{"3.1.1", "6.1.0", "7.0.0"}},
}

// Editions lists the editions this table knows, oldest first: the same as
// package edition's (a test holds them equal), which callers use to refuse
// an unknown edition.
func Editions() []string {
	out := make([]string, 0, len(editions))
	for e := range editions {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// Expectation is what an edition expects of one exported resource: that it
// meets at least one of AnyOf (versioned canonicals). Empty AnyOf means the
// edition names no profile for it.
type Expectation struct {
	AnyOf []string
	// Label names the expectation in messages: "PDex 2.0.0 for a Patient".
	Label string
}

// Expected returns what an edition expects of a resource given as JSON.
func Expected(edition, resourceType string, raw []byte) Expectation {
	var res map[string]any
	if json.Unmarshal(raw, &res) != nil {
		return Expectation{}
	}
	return ExpectedOf(edition, resourceType, res)
}

// ExpectedOf returns what an edition expects of a decoded resource (as
// encoding/json decodes into any), whose resourceType is taken when
// resourceType is empty. An unknown edition expects nothing: callers refuse
// it first (edition.Lookup).
//
// A resource must also meet the profiles it claims; that is the profile
// validator's part, not this table's.
func ExpectedOf(editionName, resourceType string, res map[string]any) Expectation {
	if resourceType == "" {
		resourceType, _ = res["resourceType"].(string)
	}
	ed, ok := editions[editionName]
	if !ok {
		return Expectation{}
	}
	var out []string
	usc := func(name string) {
		for _, v := range ed.usCore {
			out = append(out, usCore+name+"|"+v)
		}
	}
	switch resourceType {
	case "Patient", "Practitioner", "Organization":
		// SPEC §6: CARIN "C4BB-Patient, C4BB-Organization, C4BB-Practitioner
		// (or US Core equivalents)"; PDex datamapping.md maps the member,
		// practitioners and organizations to US Core (USCorePatient.md,
		// USCorePractitioner.md, USCoreOrganization.md), and its own
		// examples claim US Core.
		usc("us-core-" + strings.ToLower(resourceType))
		out = append(out, carin+"C4BB-"+resourceType+"|"+ed.carin)
	case "Coverage":
		// PDex coverage.md: "The Coverage resource is profiled in the Da
		// Vinci HRex IG"; SPEC §6 and CARIN: C4BB-Coverage.
		out = append(out, hrex+"hrex-coverage|"+ed.hrex, carin+"C4BB-Coverage|"+ed.carin)
	case "ExplanationOfBenefit":
		use, _ := res["use"].(string)
		switch {
		case use == UsePreauthorization:
			// SPEC §6; 2.2.0 §pdex-76: "SHALL map prior authorization
			// information to the PDex Prior Authorization profile".
			out = append(out, ProfilePriorAuth+"|"+ed.pdex)
		case claimUse(use):
			// SPEC §6 (2.0.0): the NonFinancial profile of the claim's
			// type; 2.1.0/2.2.0 (§pdex-75): the Basis one.
			if name := eobKind(codesOf(res["type"]), codesOf(res["subType"])); name != "" {
				out = append(out, carin+"C4BB-ExplanationOfBenefit-"+name+"-"+ed.carinEOB+"|"+ed.carin)
			}
		}
		// A predetermination is neither: PDex names no profile for it.
	case "Observation":
		for _, c := range categoriesOf(res) {
			switch {
			case c.has("laboratory"):
				usc("us-core-observation-lab")
			case c.has("vital-signs"):
				// US Core 3.1.1 holds vital signs to the R4 vital signs
				// profile; 6.1.0 and 7.0.0 to their own.
				out = append(out, ProfileVitalSigns+"|4.0.1")
				for _, v := range ed.usCore[1:] {
					out = append(out, usCore+"us-core-vital-signs|"+v)
				}
			}
			if len(out) > 0 {
				break
			}
		}
	case "DiagnosticReport":
		name := "us-core-diagnosticreport-note"
		for _, c := range categoriesOf(res) {
			if c.has("LAB") {
				name = "us-core-diagnosticreport-lab"
			}
		}
		usc(name)
	case "Condition":
		// US Core 6.1.0 split its Condition profile in two.
		out = append(out, usCore+"us-core-condition|"+ed.usCore[0])
		for _, v := range ed.usCore[1:] {
			out = append(out, usCore+"us-core-condition-encounter-diagnosis|"+v, usCore+"us-core-condition-problems-health-concerns|"+v)
		}
	case "AllergyIntolerance", "CarePlan", "CareTeam", "DocumentReference", "Encounter", "Goal",
		"Immunization", "Location", "Medication", "MedicationRequest", "PractitionerRole", "Procedure":
		// Clinical data: US Core (datamapping.md; 2.2.0 §pdex-74).
		usc("us-core-" + strings.ToLower(resourceType))
	case "Device", "MedicationDispense", "Provenance":
		// Where US Core defines no profile, PDex's own (datamapping.md; 2.2.0
		// §pdex-78): pdex-device, pdex-medicationdispense, pdex-provenance.
		// US Core's implantable device and provenance profiles, and its
		// medication dispense profile from 6.1.0, serve as well.
		switch resourceType {
		case "Device":
			usc("us-core-implantable-device")
		case "Provenance":
			usc("us-core-provenance")
		case "MedicationDispense":
			for _, v := range ed.usCore[1:] {
				out = append(out, usCore+"us-core-medicationdispense|"+v)
			}
		}
		out = append(out, pdexSD+"pdex-"+strings.ToLower(resourceType)+"|"+ed.pdex)
	}
	if len(out) == 0 {
		return Expectation{}
	}
	article := "a "
	if strings.ContainsRune("AEIOU", rune(resourceType[0])) {
		article = "an "
	}
	return Expectation{AnyOf: out, Label: "PDex " + editionName + " for " + article + resourceType}
}

// eobKind names the CARIN EOB profile family of a claim by its type and
// subType (CARIN's EOB profiles fix type, and institutional ones subType).
func eobKind(typ, subType coded) string {
	switch {
	case typ.has("institutional") && subType.has("inpatient"):
		return "Inpatient-Institutional"
	case typ.has("institutional"):
		return "Outpatient-Institutional"
	case typ.has("professional"):
		return "Professional-NonClinician"
	case typ.has("oral"):
		return "Oral"
	case typ.has("pharmacy"):
		return "Pharmacy"
	}
	return ""
}

// codesOf reads a decoded CodeableConcept's codes.
func codesOf(v any) coded {
	var c coded
	m, _ := v.(map[string]any)
	cs, _ := m["coding"].([]any)
	for _, x := range cs {
		cm, _ := x.(map[string]any)
		code, _ := cm["code"].(string)
		c = append(c, code)
	}
	return c
}

func categoriesOf(res map[string]any) []coded {
	cats, _ := res["category"].([]any)
	out := make([]coded, 0, len(cats))
	for _, c := range cats {
		out = append(out, codesOf(c))
	}
	return out
}

// coded holds the codes of a CodeableConcept.
type coded []string

func (c coded) has(code string) bool { return slices.Contains(c, code) }
