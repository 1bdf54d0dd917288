package pdex

import (
	"encoding/json"
)

// Canonical URLs of the profiles Provider Access exports must meet.
const (
	carin  = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"
	usCore = "http://hl7.org/fhir/us/core/StructureDefinition/"
	pdexSD = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/"

	ProfilePriorAuth  = pdexSD + "pdex-priorauthorization"
	ProfileVitalSigns = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
)

// byType is the profile each non-EOB type is held to in edition 2.0.0
// (SPEC §6): CARIN for the member and the parties of a claim, US Core 3.1.1
// for clinical data.
var byType = map[string]string{
	"Patient":            carin + "C4BB-Patient",
	"Coverage":           carin + "C4BB-Coverage",
	"Organization":       carin + "C4BB-Organization",
	"Practitioner":       carin + "C4BB-Practitioner",
	"AllergyIntolerance": usCore + "us-core-allergyintolerance",
	"Condition":          usCore + "us-core-condition",
	"Encounter":          usCore + "us-core-encounter",
	"Immunization":       usCore + "us-core-immunization",
	"MedicationRequest":  usCore + "us-core-medicationrequest",
	"Procedure":          usCore + "us-core-procedure",
	"Device":             pdexSD + "pdex-device",
	"MedicationDispense": pdexSD + "pdex-medicationdispense",
	"Provenance":         pdexSD + "pdex-provenance",
}

// packageVersions are the versions of the IGs an edition's profiles come
// from. The canonicals are versioned because several versions of a package
// may be loaded at once (PDex 2.0.0 and 2.1.0 both define
// pdex-priorauthorization, each requiring its own version in meta.profile).
var packageVersions = map[string]map[string]string{
	"2.0.0": {carin: "2.0.0", usCore: "3.1.1", pdexSD: "2.0.0", "http://hl7.org/fhir/StructureDefinition/": "4.0.1"},
}

// ExpectedProfiles returns the profiles an exported resource must meet in an
// edition, whatever it claims in meta.profile: claim EOBs their CARIN
// NonFinancial profile by type, prior authorizations pdex-priorauthorization,
// clinical resources US Core 3.1.1. Nil means the edition names none.
func ExpectedProfiles(edition, resourceType string, raw []byte) []string {
	var out []string
	switch resourceType {
	case "ExplanationOfBenefit":
		out = eobProfile(raw)
	case "Observation":
		out = observationProfile(raw)
	case "DiagnosticReport":
		out = diagnosticReportProfile(raw)
	default:
		if p, ok := byType[resourceType]; ok {
			out = []string{p}
		}
	}
	return versioned(edition, out)
}

// ExpectedProfilesOf is ExpectedProfiles for a resource already decoded (as
// encoding/json decodes into any), whose resourceType is taken when
// resourceType is empty.
func ExpectedProfilesOf(edition, resourceType string, res map[string]any) []string {
	if resourceType == "" {
		resourceType, _ = res["resourceType"].(string)
	}
	var out []string
	switch resourceType {
	case "ExplanationOfBenefit":
		use, _ := res["use"].(string)
		out = eobProfileFor(use, codesOf(res["type"]), codesOf(res["subType"]))
	case "Observation":
		out = observationProfileFor(categoriesOf(res))
	case "DiagnosticReport":
		out = diagnosticReportProfileFor(categoriesOf(res))
	default:
		if p, ok := byType[resourceType]; ok {
			out = []string{p}
		}
	}
	return versioned(edition, out)
}

// versioned pins each canonical to the version its package has in the
// edition.
func versioned(edition string, out []string) []string {
	versions := packageVersions[edition]
	for i, p := range out {
		for base, v := range versions {
			if len(p) > len(base) && p[:len(base)] == base {
				out[i] = p + "|" + v
			}
		}
	}
	return out
}

// codesOf reads a decoded CodeableConcept's codes.
func codesOf(v any) coded {
	var c coded
	m, _ := v.(map[string]any)
	cs, _ := m["coding"].([]any)
	for _, x := range cs {
		cm, _ := x.(map[string]any)
		code, _ := cm["code"].(string)
		system, _ := cm["system"].(string)
		c.Coding = append(c.Coding, codingOf{System: system, Code: code})
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

type coded struct {
	Coding []codingOf `json:"coding"`
}

type codingOf struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

func (c coded) has(code string) bool {
	for _, cd := range c.Coding {
		if cd.Code == code {
			return true
		}
	}
	return false
}

func eobProfile(raw []byte) []string {
	var eob struct {
		Use     string `json:"use"`
		Type    coded  `json:"type"`
		SubType coded  `json:"subType"`
	}
	if json.Unmarshal(raw, &eob) != nil {
		return nil
	}
	return eobProfileFor(eob.Use, eob.Type, eob.SubType)
}

func eobProfileFor(use string, typ, subType coded) []string {
	if use == "preauthorization" {
		return []string{ProfilePriorAuth}
	}
	nf := func(name string) []string {
		return []string{carin + "C4BB-ExplanationOfBenefit-" + name + "-NonFinancial"}
	}
	switch {
	case typ.has("institutional") && subType.has("inpatient"):
		return nf("Inpatient-Institutional")
	case typ.has("institutional"):
		return nf("Outpatient-Institutional")
	case typ.has("professional"):
		return nf("Professional-NonClinician")
	case typ.has("oral"):
		return nf("Oral")
	case typ.has("pharmacy"):
		return nf("Pharmacy")
	}
	return nil
}

func observationProfile(raw []byte) []string {
	var o struct {
		Category []coded `json:"category"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return nil
	}
	return observationProfileFor(o.Category)
}

func observationProfileFor(categories []coded) []string {
	for _, c := range categories {
		switch {
		case c.has("laboratory"):
			return []string{usCore + "us-core-observation-lab"}
		case c.has("vital-signs"):
			return []string{ProfileVitalSigns}
		}
	}
	return nil
}

func diagnosticReportProfile(raw []byte) []string {
	var d struct {
		Category []coded `json:"category"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return nil
	}
	return diagnosticReportProfileFor(d.Category)
}

func diagnosticReportProfileFor(categories []coded) []string {
	for _, c := range categories {
		if c.has("LAB") {
			return []string{usCore + "us-core-diagnosticreport-lab"}
		}
	}
	return []string{usCore + "us-core-diagnosticreport-note"}
}
