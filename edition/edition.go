// Package edition holds what the harness knows of each edition of the PDex
// IG's Provider Access API, as data: the kick-off parameters of each kind of
// export, how the payer tracks what a provider downloaded, where opted-out
// members stand, and which operations exist. Specs, the bulk client's default
// parameters, the catalog and the report read an Edition; none of them
// branches on an edition's name.
//
// Sources: ../shared/SPEC.md §4 and ../shared/EDITIONS.md, which cite the
// IG's text for each fact. The reference server keeps its own table: the
// harness never judges a target by the server's rules.
package edition

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is a kind of export a provider asks for.
type Kind string

const (
	// Snapshot is data for viewing: it must not change what the payer
	// records of the provider's downloads (2.0.0 exportMode snapshot,
	// 2.1.0+ exportType #provider-snapshot).
	Snapshot Kind = "snapshot"
	// Download is data to store in the patient record (2.0.0 exportMode
	// download, 2.1.0+ #provider-download).
	Download Kind = "download"
	// Delta is the new or changed data since the last request, to store
	// (2.1.0+ #provider-delta).
	Delta Kind = "delta"
)

// Param is one kick-off parameter with the value[x] type it is sent as.
type Param struct {
	Name, Type, Value string
}

// Tracking is where an edition records what a provider last downloaded.
type Tracking string

const (
	// TrackNone: the edition records nothing the provider can read.
	TrackNone Tracking = ""
	// TrackPatient: an extension on the member's Patient (2.0.0).
	TrackPatient Tracking = "patient"
	// TrackGroupMember: extensions on Group.member (2.1.0).
	TrackGroupMember Tracking = "group-member"
)

// Canonical URLs the editions name.
const (
	pdexSD = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/"

	ExtLastTransmission = pdexSD + "base-ext-last-transmission"
	ExtLastTypes        = pdexSD + "base-ext-last-types"
	ExtLastTypeFilter   = pdexSD + "base-ext-last-typefilter"
	ExtMembersOptedOut  = pdexSD + "base-ext-members-opted-out"

	ProfileProviderGroup   = pdexSD + "pdex-provider-group"
	ProfileProviderConsent = pdexSD + "pdex-provider-consent"
	ProfileATRGroup        = "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/atr-group"

	// 2.2.0's $provider-member-match profiles (EDITIONS.md §1): the request
	// and response Parameters, the three response Groups and the provider's
	// treatment attestation.
	ProfileMatchRequest         = pdexSD + "provider-parameters-multi-member-match-bundle-in"
	ProfileMatchResponse        = pdexSD + "provider-parameters-multi-member-match-bundle-out"
	ProfileMatchedGroup         = pdexSD + "pdex-provider-member-match"
	ProfileNoMatchGroup         = pdexSD + "pdex-provider-member-no-match"
	ProfileOptOutGroup          = pdexSD + "pdex-member-opt-out"
	ProfileTreatmentAttestation = pdexSD + "provider-treatment-relationship-consent"

	// CodeSystems of the provider Groups: the attribution list's code
	// (2.1.0 PdexMemberAttributionCS) and the member-match result codes.
	SystemMemberAttribution = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMemberAttributionCS"
	SystemMatchResult       = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS"
	CodeProviderGroup       = "pdexprovidergroup"

	// IGCanonical is the PDex ImplementationGuide's canonical, which a
	// CapabilityStatement's implementationGuide names with |version.
	IGCanonical = "http://hl7.org/fhir/us/davinci-pdex/ImplementationGuide/hl7.fhir.us.davinci-pdex"

	// OperationDataExport is the ATR operation every edition exports with.
	OperationDataExport = "http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export"
	// OperationMemberMatch is 2.2.0's $provider-member-match.
	OperationMemberMatch = "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/ProviderMemberMatch"

	// CapabilityProviderAccess is the Provider Access server
	// CapabilityStatement (from 2.1.0).
	CapabilityProviderAccess = "http://hl7.org/fhir/us/davinci-pdex/CapabilityStatement/pdex-provider-access-server"
)

// Edition is one edition of the Provider Access API.
type Edition struct {
	// Name is the edition's version, e.g. "2.1.0".
	Name string
	// Title says what the edition is, status included.
	Title string
	// Page is the Provider Access page of the edition.
	Page string
	// Source names the text the project reads the edition from.
	Source string
	// Kinds are the kinds of export the edition defines, in order, with
	// the parameters each kick-off carries for it (besides patient, _type
	// and the rest the scenario chooses).
	Kinds []Kind
	kinds map[Kind][]Param
	// OldForms are kick-off parameters of other editions that this one no
	// longer defines, each of which a server of this edition should refuse
	// (2.1.0 removed exportMode and the bare exportType).
	OldForms []OldForm
	// Tracking is where a download is recorded; TrackingKinds the kinds of
	// export that SHALL record it, UntrackedKinds those that SHALL leave it
	// alone. A kind in neither is not judged (2.1.0's snapshot: the text
	// exempts no kind, and a snapshot is for viewing; EDITIONS.md §9.3).
	Tracking       Tracking
	TrackingKinds  []Kind
	UntrackedKinds []Kind
	// TrackingExtensions are the Group.member extensions the edition
	// records (TrackGroupMember): last transmission, last _type, last
	// _typeFilter.
	TrackingExtensions []string
	// RemovedExtensions are tracking extensions an earlier edition defined
	// and this one deleted (2.2.0, FHIR-55987).
	RemovedExtensions []string
	// TrackingNote says in a few words how the edition tracks downloads,
	// for messages that name an edition difference.
	TrackingNote string
	// LastDownloadExtension is the extension holding the last download
	// time, when the edition tracks one.
	LastDownloadExtension string
	// OptedOutInGroup says whether opted-out members stay listed in the
	// attribution Group (2.0.0 is silent: they may; 2.1.0 and 2.2.0 SHALL
	// leave them out, §pdex-343/344).
	OptedOutInGroup bool
	// DeltaNeedsSince: a provider-delta kick-off SHALL carry _since (2.2.0,
	// §pdex-363).
	DeltaNeedsSince bool
	// MemberMatch: the edition defines $provider-member-match (2.2.0).
	MemberMatch bool
	// ConsentWrite: the edition defines pdex-provider-consent, written
	// through the Patient Access API (2.1.0 SHALL, 2.2.0 MAY; the catalog
	// holds the levels).
	ConsentWrite bool
	// ConsentCategories are the category codings (system|code) a
	// pdex-provider-consent carries in the edition.
	ConsentCategories []string
	// CapabilityStatement is the canonical of the Provider Access server
	// CapabilityStatement the edition publishes; "" when it has none.
	CapabilityStatement string
	// GroupSearchParams are the Group search parameters the edition
	// requires (§pdex-350, §pdex-396; 2.2.0 adds
	// characteristic-value-reference).
	GroupSearchParams []string
	// GroupProfiles are the profiles the attribution Group is held to.
	GroupProfiles []string
	// ClaimProfiles are the CARIN profiles exported claim EOBs claim, one
	// per claim type: NonFinancial in 2.0.0 (SPEC §6, a CARIN CI build),
	// Basis from 2.1.0 (provider-access-api.md "Da Vinci Data Export
	// Payload"; 2.2.0 §pdex-75).
	ClaimProfiles []string
	// ProviderGroupCode is the coding (system|code) that the edition's
	// provider Groups carry in code and characteristic.code (2.1.0+
	// pdex-provider-group); "" when it defines none.
	ProviderGroupCode string
	// IGVersions are the IG package versions whose canonicals identify
	// the edition in a server's CapabilityStatement (implementationGuide,
	// instantiates).
	IGVersions []string
	// Draft says the edition's Provider Access text was never published
	// as such (2.0.0's is the November 2023 draft).
	Draft bool
}

// OldForm is a kick-off parameter an edition does not define, with why it
// is gone.
type OldForm struct {
	Param Param
	// Why names the edition difference, e.g. "exportMode was removed in
	// 2.1.0".
	Why string
}

// Params returns the parameters a kick-off of kind k carries in this
// edition; nil when the edition does not define the kind.
func (e *Edition) Params(k Kind) []Param {
	return slices.Clone(e.kinds[k])
}

// Defines reports whether the edition defines kind k.
func (e *Edition) Defines(k Kind) bool { _, ok := e.kinds[k]; return ok }

// Tracks reports whether an export of kind k SHALL record the download.
func (e *Edition) Tracks(k Kind) bool {
	return e.Tracking != TrackNone && slices.Contains(e.TrackingKinds, k)
}

// LeavesUntracked reports whether an export of kind k SHALL leave the
// record of downloads alone.
func (e *Edition) LeavesUntracked(k Kind) bool {
	return e.Tracking != TrackNone && slices.Contains(e.UntrackedKinds, k)
}

// ExportType is the exportType value the edition sends for kind k, "" when
// it sends none.
func (e *Edition) ExportType(k Kind) string {
	for _, p := range e.kinds[k] {
		if p.Name == "exportType" {
			return p.Value
		}
	}
	return ""
}

// Others describes how the other editions send kind k, for messages that
// name an edition difference ("2.0.0 sends exportType hl7.fhir.us.davinci-pdex
// with exportMode download").
func (e *Edition) Others(k Kind) string {
	var parts []string
	for _, o := range editions {
		if o.Name == e.Name {
			continue
		}
		ps := o.kinds[k]
		if len(ps) == 0 {
			parts = append(parts, fmt.Sprintf("%s has no %s export", o.Name, k))
			continue
		}
		var vs []string
		for _, p := range ps {
			vs = append(vs, p.Name+" "+p.Value)
		}
		parts = append(parts, fmt.Sprintf("%s sends %s", o.Name, strings.Join(vs, " with ")))
	}
	return strings.Join(parts, "; ")
}

// TrackingElsewhere says how the other editions track downloads.
func (e *Edition) TrackingElsewhere() string {
	var parts []string
	for _, o := range editions {
		if o.Name != e.Name {
			parts = append(parts, o.Name+": "+o.TrackingNote)
		}
	}
	return strings.Join(parts, "; ")
}

const exportTypeBase = "hl7.fhir.us.davinci-pdex"

// claimProfiles names CARIN's five claim EOB profiles of a family
// ("NonFinancial", "Basis").
func claimProfiles(family string) []string {
	var out []string
	for _, name := range []string{"Inpatient-Institutional", "Outpatient-Institutional", "Professional-NonClinician", "Oral", "Pharmacy"} {
		out = append(out, "http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-"+name+"-"+family)
	}
	return out
}

// exportType is 2.1.0's exportType for a kind: the IG's package id with the
// kind as fragment (EDITIONS.md §1, §pdex-361).
func exportType(k Kind) []Param {
	return []Param{{Name: "exportType", Type: "valueCanonical", Value: exportTypeBase + "#provider-" + string(k)}}
}

// oldForms2x are the 2.0.0 kick-off forms that 2.1.0 and 2.2.0 no longer
// define: the bare exportType (§pdex-361 lists the only values) and the
// exportMode parameter (CodeSystem and ValueSet removed, changehistory.md
// 2.1.0 "Removed ExportModeVS").
var oldForms2x = []OldForm{
	{Param{"exportType", "valueCanonical", exportTypeBase}, "the bare exportType hl7.fhir.us.davinci-pdex is 2.0.0's; from 2.1.0 exportType SHALL be one of the three #provider- values (§pdex-361)"},
	{Param{"exportMode", "valueCode", "download"}, "exportMode is 2.0.0's; 2.1.0 removed it (the kind is in the exportType fragment)"},
}

const (
	systemActCode    = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemAPIPurpose = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/pdex-consent-api-purpose"
)

var editions = []*Edition{
	{
		Name:   "2.0.0",
		Title:  "PDex STU2 Provider Access draft (November 2023): the seed text, never balloted or published",
		Page:   "http://hl7.org/fhir/us/davinci-pdex/STU2/provider-access-api.html",
		Source: "davinci-epdx@7df1ee76 (CI build of 2023-11-10; seeds/002), SPEC.md",
		Kinds:  []Kind{Snapshot, Download},
		kinds: map[Kind][]Param{
			// "The exportType parameter SHALL contain hl7.fhir.us.davinci-pdex";
			// "The exportMode field SHALL have one of two values".
			Snapshot: {{"exportType", "valueCanonical", exportTypeBase}, {"exportMode", "valueCode", "snapshot"}},
			Download: {{"exportType", "valueCanonical", exportTypeBase}, {"exportMode", "valueCode", "download"}},
		},
		Tracking:              TrackPatient,
		TrackingKinds:         []Kind{Download},
		UntrackedKinds:        []Kind{Snapshot},
		TrackingNote:          "a download records the last download in an extension on the member's Patient",
		LastDownloadExtension: ExtLastTransmission,
		OptedOutInGroup:       true,
		GroupSearchParams:     []string{"identifier", "characteristic"},
		GroupProfiles:         []string{ProfileATRGroup},
		ClaimProfiles:         claimProfiles("NonFinancial"),
		IGVersions:            []string{"2.0.0"},
		Draft:                 true,
	},
	{
		Name:   "2.1.0",
		Title:  "PDex STU 2.1 (the Provider Access page is informative in this release)",
		Page:   "http://hl7.org/fhir/us/davinci-pdex/STU2.1/provider-access-api.html",
		Source: "davinci-epdx tag 2.1.0 (d7a7611f), input/pagecontent/provider-access-api.md; EDITIONS.md",
		Kinds:  []Kind{Snapshot, Download, Delta},
		kinds: map[Kind][]Param{
			Snapshot: exportType(Snapshot),
			Download: exportType(Download),
			Delta:    exportType(Delta),
		},
		OldForms: oldForms2x,
		// E21 "_type"/"_typeFilter": the export SHALL record the
		// Group.member extensions; download and delta store data, so they
		// SHALL. Whether a snapshot does is open (EDITIONS.md §2, §9.3):
		// neither demanded nor forbidden here.
		Tracking:              TrackGroupMember,
		TrackingKinds:         []Kind{Download, Delta},
		TrackingExtensions:    []string{ExtLastTransmission, ExtLastTypes, ExtLastTypeFilter},
		TrackingNote:          "a download or delta records last transmission, _type and _typeFilter in extensions on Group.member",
		LastDownloadExtension: ExtLastTransmission,
		ConsentWrite:          true,
		ConsentCategories:     []string{systemActCode + "|IDSCL"},
		CapabilityStatement:   CapabilityProviderAccess,
		GroupSearchParams:     []string{"identifier", "characteristic", "code"},
		GroupProfiles:         []string{ProfileATRGroup, ProfileProviderGroup},
		ProviderGroupCode:     SystemMemberAttribution + "|" + CodeProviderGroup,
		ClaimProfiles:         claimProfiles("Basis"),
		IGVersions:            []string{"2.1.0"},
	},
	{
		Name:   "2.2.0",
		Title:  "PDex STU 2.2 (Provider Access trial use; adds $provider-member-match)",
		Page:   "http://hl7.org/fhir/us/davinci-pdex/STU2.2/provider-access-api.html",
		Source: "davinci-epdx master 444e07e9 (v2.2.0, untagged), provider-access-api.md and provider-access-api-v2.md; EDITIONS.md",
		Kinds:  []Kind{Snapshot, Download, Delta},
		kinds: map[Kind][]Param{
			Snapshot: exportType(Snapshot),
			Download: exportType(Download),
			Delta:    exportType(Delta),
		},
		OldForms: oldForms2x,
		// FHIR-55987 removed the tracking extensions: the payer keeps an
		// internal audit trail instead (§pdex-349).
		Tracking:            TrackNone,
		RemovedExtensions:   []string{ExtLastTransmission, ExtLastTypes, ExtLastTypeFilter},
		TrackingNote:        "nothing the provider can read: the Group.member extensions were removed (FHIR-55987); the payer keeps an audit trail",
		DeltaNeedsSince:     true,
		MemberMatch:         true,
		ConsentWrite:        true,
		ConsentCategories:   []string{systemActCode + "|IDSCL", systemAPIPurpose + "|provider-access"},
		CapabilityStatement: CapabilityProviderAccess,
		GroupSearchParams:   []string{"identifier", "characteristic", "code", "characteristic-value-reference"},
		GroupProfiles:       []string{ProfileATRGroup, ProfileProviderGroup},
		ProviderGroupCode:   SystemMemberAttribution + "|" + CodeProviderGroup,
		ClaimProfiles:       claimProfiles("Basis"),
		IGVersions:          []string{"2.2.0"},
	},
}

// Default is the edition a run uses when none is given or detected.
const Default = "2.0.0"

// Names lists the known editions, oldest first.
func Names() []string {
	out := make([]string, len(editions))
	for i, e := range editions {
		out[i] = e.Name
	}
	return out
}

// Lookup returns an edition by name ("" is Default).
func Lookup(name string) (*Edition, error) {
	if name == "" {
		name = Default
	}
	for _, e := range editions {
		if e.Name == name {
			return e, nil
		}
	}
	return nil, fmt.Errorf("edition %q is not known (known: %s)", name, strings.Join(Names(), ", "))
}

// MustLookup is Lookup for names known to be valid (tests, tables).
func MustLookup(name string) *Edition {
	e, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return e
}
