package catalog

import "strings"

// Link is a page of a specification a requirement comes from.
type Link struct {
	Title, URL string
}

// Published pages, by the document a requirement's Source names. Each is
// the permanent home of the version the catalog cites (hl7.org keeps every
// published version at its own URL). The PDex 2.0.0 edition is the November
// 2023 draft of the Provider Access page, which no published 2.0.0 carries
// (SPEC.md, edition note): its link is the first published Provider Access
// page, STU 2.1, which holds the same sentences.
var (
	pdexPage = map[string]Link{
		"2.0.0": {"PDex Provider Access API (published STU 2.1 page; edition 2.0.0 is its November 2023 draft)", "https://hl7.org/fhir/us/davinci-pdex/STU2.1/provider-access-api.html"},
		"2.1.0": {"PDex STU 2.1, Provider Access API", "https://hl7.org/fhir/us/davinci-pdex/STU2.1/provider-access-api.html"},
		"2.2.0": {"PDex STU 2.2, Provider Access API", "https://hl7.org/fhir/us/davinci-pdex/STU2.2/provider-access-api.html"},
	}
	pdexCapability = map[string]Link{
		"2.0.0": {"PDex Provider Access server CapabilityStatement (STU 2.1)", "https://hl7.org/fhir/us/davinci-pdex/STU2.1/CapabilityStatement-pdex-provider-access-server.html"},
		"2.1.0": {"PDex Provider Access server CapabilityStatement (STU 2.1)", "https://hl7.org/fhir/us/davinci-pdex/STU2.1/CapabilityStatement-pdex-provider-access-server.html"},
		"2.2.0": {"PDex Provider Access server CapabilityStatement (STU 2.2)", "https://hl7.org/fhir/us/davinci-pdex/STU2.2/CapabilityStatement-pdex-provider-access-server.html"},
	}
	documentLinks = []struct {
		// mention is what a Source says when it cites the document.
		mention string
		link    Link
	}{
		{"Bulk Data", Link{"FHIR Bulk Data Access 2.0.0, Export", "https://hl7.org/fhir/uv/bulkdata/STU2/export.html"}},
		{"SMART App Launch", Link{"SMART App Launch 2.0.0, Backend Services", "https://hl7.org/fhir/smart-app-launch/STU2/backend-services.html"}},
		{"atr-group", Link{"Da Vinci ATR STU 2, atr-group profile", "https://hl7.org/fhir/us/davinci-atr/STU2/StructureDefinition-atr-group.html"}},
		{"davinci-data-export OperationDefinition", Link{"Da Vinci ATR STU 2, davinci-data-export OperationDefinition", "https://hl7.org/fhir/us/davinci-atr/STU2/OperationDefinition-davinci-data-export.html"}},
		{"CARIN", Link{"CARIN Blue Button STU 2", "https://hl7.org/fhir/us/carin-bb/STU2/"}},
		{"US Core", Link{"US Core 3.1.1", "https://hl7.org/fhir/us/core/STU3.1.1/"}},
		{"FHIR R4", Link{"FHIR R4", "https://hl7.org/fhir/R4/"}},
	}
)

// Links returns the published specification pages a requirement comes
// from, as it reads in an edition: derived from its Source, so that every
// requirement, including those added later, links to what it cites.
func Links(r Requirement, edition string) []Link {
	r, _ = r.For(edition)
	var out []Link
	add := func(l Link) {
		for _, have := range out {
			if have.URL == l.URL {
				return
			}
		}
		out = append(out, l)
	}
	src := r.Source
	if strings.Contains(src, "PDex") || strings.Contains(src, "pdex") {
		if l, ok := pdexPage[edition]; ok {
			add(l)
		}
		if strings.Contains(src, "CapabilityStatement") {
			if l, ok := pdexCapability[edition]; ok {
				add(l)
			}
		}
	}
	for _, d := range documentLinks {
		if strings.Contains(src, d.mention) {
			add(d.link)
		}
	}
	if len(out) == 0 {
		// A source this table does not know (the project's own OpenAPI
		// description of the PDex API): the PDex page it describes.
		if l, ok := pdexPage[edition]; ok {
			add(l)
		}
	}
	return out
}
