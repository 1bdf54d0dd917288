package reference

import (
	"fmt"
	"slices"
	"strings"
)

// An edition holds the PDex rules that moved between versions of the IG
// (SPEC §4, EDITIONS.md): what a kick-off may carry, what an export records,
// how the attribution Group is presented, and which operations and writes
// exist. The server keeps its own table, read from the IG, apart from the
// harness's (package edition): the harness never judges a target by the
// server's rules.
type edition struct {
	Name string
	// ExportTypes maps each exportType value the edition accepts to the
	// kind of export it asks for; "" when the kind comes from exportMode
	// (2.0.0).
	ExportTypes map[string]string
	// ExportTypeRequired: a kick-off without exportType is refused (2.0.0:
	// "SHALL contain hl7.fhir.us.davinci-pdex"; optional from 2.1.0).
	ExportTypeRequired bool
	// Modes are the exportMode values the edition accepts; nil when the
	// edition has no exportMode parameter (2.1.0 removed it).
	Modes []string
	// TracksOn lists the kinds of export that record the last download.
	TracksOn []string
	// TrackOnGroup records it in Group.member extensions (2.1.0) rather
	// than on the Patient (2.0.0).
	TrackOnGroup bool
	// LastDownloadURL is the extension that records the last download on
	// the Patient (2.0.0).
	LastDownloadURL string
	// ProviderGroups presents attribution Groups as pdex-provider-group:
	// Group.code and characteristic pdexprovidergroup, the provider in
	// characteristic.valueReference, opted-out members left out and
	// counted (2.1.0 §"Attribution List", 2.2.0 §pdex-343/344).
	ProviderGroups bool
	// DeltaNeedsSince refuses a provider-delta kick-off without _since
	// (2.2.0 §pdex-363 obliges the client; the server need not infer a
	// cut-off).
	DeltaNeedsSince bool
	// ConsentWrite accepts pdex-provider-consent resources (create, update,
	// delete) and honours them (2.1.0 SHALL, 2.2.0 MAY).
	ConsentWrite bool
	// MemberMatch serves $provider-member-match (2.2.0).
	MemberMatch bool
	// ClaimProfile is the CARIN claim profile family and version exported
	// claim EOBs name: "NonFinancial|2.0.0" (2.0.0's CARIN build),
	// "Basis|2.1.0" (PDex 2.1.0 names CARIN 2.1.0), "Basis|2.2.0".
	ClaimProfile string
	// Capability is the Provider Access server CapabilityStatement the
	// server instantiates ("" when the edition has none); SearchParams the
	// Group search parameters it declares.
	Capability   string
	SearchParams []string
}

// LastTransmissionURL is the extension this project uses for the
// last-download date in edition 2.0.0, which names none (SPEC §4); 2.1.0
// defines it for Group.member.
const LastTransmissionURL = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-last-transmission"

// Canonicals of the 2.1.0 Group.member tracking extensions and of the Group
// profile (davinci-epdx@2.1.0 input/fsh/ProfilePDexProviderGroup.fsh).
const (
	pdexSD               = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/"
	extLastTypes         = pdexSD + "base-ext-last-types"
	extLastTypeFilter    = pdexSD + "base-ext-last-typefilter"
	extMembersOptedOut   = pdexSD + "base-ext-members-opted-out"
	profileProviderGroup = pdexSD + "pdex-provider-group"
	systemAttribution    = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMemberAttributionCS"
	codeProviderGroup    = "pdexprovidergroup"
	providerAccessCS     = "http://hl7.org/fhir/us/davinci-pdex/CapabilityStatement/pdex-provider-access-server"
	pdexIG               = "http://hl7.org/fhir/us/davinci-pdex/ImplementationGuide/hl7.fhir.us.davinci-pdex"
)

// trackingExtensions are the Group.member extensions of 2.1.0.
var trackingExtensions = []string{LastTransmissionURL, extLastTypes, extLastTypeFilter}

const exportTypeBase = "hl7.fhir.us.davinci-pdex"

// providerKinds are 2.1.0's exportType values (§pdex-361) and their kinds.
var providerKinds = map[string]string{
	exportTypeBase + "#provider-delta":    "delta",
	exportTypeBase + "#provider-download": "download",
	exportTypeBase + "#provider-snapshot": "snapshot",
}

var editions = map[string]*edition{
	"2.0.0": {
		Name:               "2.0.0",
		ExportTypes:        map[string]string{exportTypeBase: ""},
		ExportTypeRequired: true,
		Modes:              []string{"snapshot", "download"},
		TracksOn:           []string{"download"},
		LastDownloadURL:    LastTransmissionURL,
		ClaimProfile:       "NonFinancial|2.0.0",
		SearchParams:       []string{"identifier", "characteristic"},
	},
	"2.1.0": {
		Name:        "2.1.0",
		ExportTypes: providerKinds,
		// Download and delta store data in the patient record; a snapshot
		// is for viewing and records nothing here (EDITIONS.md §2: the
		// text exempts no kind; the variant track-snapshot shows the other
		// reading).
		TracksOn:       []string{"download", "delta"},
		TrackOnGroup:   true,
		ProviderGroups: true,
		ConsentWrite:   true,
		ClaimProfile:   "Basis|2.1.0",
		Capability:     providerAccessCS,
		SearchParams:   []string{"identifier", "characteristic", "code"},
	},
	"2.2.0": {
		Name:            "2.2.0",
		ExportTypes:     providerKinds,
		ProviderGroups:  true,
		DeltaNeedsSince: true,
		ConsentWrite:    true,
		MemberMatch:     true,
		ClaimProfile:    "Basis|2.2.0",
		Capability:      providerAccessCS,
		SearchParams:    []string{"identifier", "characteristic", "code", "characteristic-value-reference"},
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

// exportTypes lists the accepted exportType values, sorted, for messages.
func (ed *edition) exportTypes() string {
	var vs []string
	for v := range ed.ExportTypes {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return strings.Join(vs, ", ")
}

// checkRequest applies the edition's rules on exportType, exportMode and
// _since, and sets the kind of export the request asks for. 2.0.0:
// exportType SHALL be hl7.fhir.us.davinci-pdex and exportMode snapshot or
// download. 2.1.0 and 2.2.0: exportType is optional and SHALL be one of the
// three #provider- values (§pdex-361); exportMode is no parameter of theirs
// (validate refuses it as unsupported); 2.2.0's provider-delta needs _since.
func (ed *edition) checkRequest(p *exportParams, f faults) error {
	if !f.has(FaultAnyExportType) {
		kind, known := ed.ExportTypes[p.ExportType]
		switch {
		case p.ExportType == "" && ed.ExportTypeRequired:
			return badf("exportType is required: it SHALL be %s", ed.exportTypes())
		case p.ExportType != "" && (!known || f.has(FaultRefusePDexType) && ed.Modes != nil):
			return badf("exportType %q is not supported in edition %s: it SHALL be %s", p.ExportType, ed.Name, ed.exportTypes())
		case kind == "delta" && f.has(FaultRefuseExportKind), kind == "download" && f.has(FaultRefuseDownload),
			kind == "snapshot" && f.has(FaultRefuseSnapshot):
			return badf("exportType %q is not supported", p.ExportType)
		case p.ExportType == "" && f.has(FaultRequireExportType):
			return badf("exportType is required")
		}
		p.Kind = kind
	} else if k, ok := providerKinds[p.ExportType]; ok {
		p.Kind = k
	}
	if ed.Modes != nil && !f.has(FaultAnyExportMode) {
		if p.ExportMode == "" {
			return badf("exportMode is required: one of %v", ed.Modes)
		}
		if !slices.Contains(ed.Modes, p.ExportMode) {
			return badf("exportMode %q is not one of %v", p.ExportMode, ed.Modes)
		}
	}
	if ed.Modes != nil {
		p.Kind = p.ExportMode
	}
	if ed.DeltaNeedsSince && p.Kind == "delta" && p.Since == nil {
		return badf("exportType %s needs _since: the client tracks what it last received and sends it as _since (§pdex-363)", p.ExportType)
	}
	return nil
}

// tracks reports whether an export of this kind records the last download.
func (ed *edition) tracks(kind string, f faults, v variants) bool {
	if kind == "snapshot" && (f.has(FaultTrackOnSnapshot) || ed.TrackOnGroup && v.has(VariantTrackSnapshot)) {
		return true
	}
	if f.has(FaultSkipLastDownload) || f.has(FaultSkipMemberTracking) {
		return false
	}
	if f.has(FaultKeepMemberTracking) && !ed.TrackOnGroup && ed.ProviderGroups && (kind == "download" || kind == "delta") {
		return true // a 2.2.0 server that still keeps 2.1.0's extensions
	}
	return slices.Contains(ed.TracksOn, kind)
}

// tracksOnGroup reports whether downloads are recorded on Group.member.
func (ed *edition) tracksOnGroup(f faults) bool {
	if f.has(FaultTrackOnPatient) {
		return false
	}
	return ed.TrackOnGroup || f.has(FaultKeepMemberTracking) && ed.ProviderGroups
}

// profileClaims rewrites the profiles exported EOBs claim to the
// edition's: claims name the edition's claim profile (Basis from 2.1.0:
// provider-access-api.md "Da Vinci Data Export Payload", §pdex-75) instead
// of the NonFinancial one of the stored export form, and prior
// authorizations name pdex-priorauthorization as the edition's profile
// slices it. Nil when the stored
// export form already names them (2.0.0).
func (ed *edition) profileClaims() *strings.Replacer {
	family, version, _ := strings.Cut(ed.ClaimProfile, "|")
	if family == "NonFinancial" {
		return nil
	}
	var pairs []string
	for _, name := range []string{"Inpatient-Institutional", "Outpatient-Institutional", "Professional-NonClinician", "Oral", "Pharmacy"} {
		base := "http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-" + name
		pairs = append(pairs, base+"-NonFinancial|2.0.0\"", base+"-"+family+"|"+version+"\"")
	}
	// pdex-priorauthorization from 2.1.0 slices meta.profile on its
	// canonical without a version (davinci-epdx@2.1.0, and the 2.1.0
	// package's snapshot: patternCanonical with no |version).
	pairs = append(pairs, pdexSD+"pdex-priorauthorization|2.0.0\"", pdexSD+"pdex-priorauthorization\"")
	return strings.NewReplacer(pairs...)
}
