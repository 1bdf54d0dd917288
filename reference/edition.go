package reference

import (
	"fmt"
	"slices"
)

// An edition holds the PDex rules that moved between versions of the IG
// (SPEC §4). Only 2.0.0 is implemented; 2.1.0 and 2.2.0 become further
// values of this type, not branches through the server.
type edition struct {
	Name string
	// ExportType is the exportType value the edition requires.
	ExportType string
	// Modes are the exportMode values the edition accepts.
	Modes []string
	// TracksOn lists the modes that record the last download on the Patient.
	TracksOn []string
	// LastDownloadURL is the extension that records it.
	LastDownloadURL string
}

// LastTransmissionURL is the extension this project uses for the
// last-download date in edition 2.0.0, which names none (SPEC §4).
const LastTransmissionURL = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-last-transmission"

var editions = map[string]*edition{
	"2.0.0": {
		Name:            "2.0.0",
		ExportType:      "hl7.fhir.us.davinci-pdex",
		Modes:           []string{"snapshot", "download"},
		TracksOn:        []string{"download"},
		LastDownloadURL: LastTransmissionURL,
	},
}

// Editions lists the editions the reference server implements.
func Editions() []string {
	var out []string
	for k := range editions {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func lookupEdition(name string) (*edition, error) {
	if name == "" {
		name = "2.0.0"
	}
	ed, ok := editions[name]
	if !ok {
		return nil, fmt.Errorf("edition %q is not implemented (have %v)", name, Editions())
	}
	return ed, nil
}

// checkRequest applies the edition's rules on exportType and exportMode
// (§pdex: exportType SHALL be hl7.fhir.us.davinci-pdex; exportMode SHALL be
// snapshot or download).
func (ed *edition) checkRequest(p *exportParams, f faults) error {
	if !f.has(FaultAnyExportType) {
		if p.ExportType == "" {
			return badf("exportType is required: it SHALL be %s", ed.ExportType)
		}
		if p.ExportType != ed.ExportType || f.has(FaultRefusePDexType) {
			return badf("exportType %q is not supported: it SHALL be %s", p.ExportType, ed.ExportType)
		}
	}
	if !f.has(FaultAnyExportMode) {
		if p.ExportMode == "" {
			return badf("exportMode is required: one of %v", ed.Modes)
		}
		if !slices.Contains(ed.Modes, p.ExportMode) {
			return badf("exportMode %q is not one of %v", p.ExportMode, ed.Modes)
		}
	}
	return nil
}

// tracks reports whether an export in this mode records the last download.
func (ed *edition) tracks(mode string, f faults) bool {
	if f.has(FaultTrackOnSnapshot) && mode == "snapshot" {
		return true
	}
	if f.has(FaultSkipLastDownload) {
		return false
	}
	return slices.Contains(ed.TracksOn, mode)
}
