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
	// Kinds are the kinds of export the edition defines, in order, with
	// the parameters each kick-off carries for it (besides patient, _type
	// and the rest the scenario chooses).
	Kinds []Kind
	kinds map[Kind][]Param
	// Tracking is where a download is recorded; TrackingKinds the kinds of
	// export that record it.
	Tracking      Tracking
	TrackingKinds []Kind
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
	// CapabilityStatement is the canonical of the Provider Access server
	// CapabilityStatement the edition publishes; "" when it has none.
	CapabilityStatement string
	// GroupProfiles are the profiles the attribution Group is held to.
	GroupProfiles []string
	// IGVersions are the IG package versions whose canonicals identify
	// the edition in a server's CapabilityStatement (implementationGuide,
	// instantiates).
	IGVersions []string
}

// Params returns the parameters a kick-off of kind k carries in this
// edition; nil when the edition does not define the kind.
func (e *Edition) Params(k Kind) []Param {
	return slices.Clone(e.kinds[k])
}

// Defines reports whether the edition defines kind k.
func (e *Edition) Defines(k Kind) bool { _, ok := e.kinds[k]; return ok }

// Tracks reports whether an export of kind k records the download.
func (e *Edition) Tracks(k Kind) bool {
	return e.Tracking != TrackNone && slices.Contains(e.TrackingKinds, k)
}

const exportTypeBase = "hl7.fhir.us.davinci-pdex"

// exportType is 2.1.0's exportType for a kind: the IG's package id with the
// kind as fragment (EDITIONS.md §1, §pdex-361).
func exportType(k Kind) []Param {
	return []Param{{Name: "exportType", Type: "valueCanonical", Value: exportTypeBase + "#provider-" + string(k)}}
}

var editions = []*Edition{
	{
		Name:  "2.0.0",
		Title: "PDex STU2 Provider Access draft (November 2023): the seed text, never balloted",
		Page:  "http://hl7.org/fhir/us/davinci-pdex/STU2/provider-access-api.html",
		Kinds: []Kind{Snapshot, Download},
		kinds: map[Kind][]Param{
			// "The exportType parameter SHALL contain hl7.fhir.us.davinci-pdex";
			// "The exportMode field SHALL have one of two values".
			Snapshot: {{"exportType", "valueCanonical", exportTypeBase}, {"exportMode", "valueCode", "snapshot"}},
			Download: {{"exportType", "valueCanonical", exportTypeBase}, {"exportMode", "valueCode", "download"}},
		},
		Tracking:              TrackPatient,
		TrackingKinds:         []Kind{Download},
		LastDownloadExtension: ExtLastTransmission,
		OptedOutInGroup:       true,
		GroupProfiles:         []string{ProfileATRGroup},
		IGVersions:            []string{"2.0.0"},
	},
	{
		Name:  "2.1.0",
		Title: "PDex STU 2.1 (the Provider Access page is informative in this release)",
		Page:  "http://hl7.org/fhir/us/davinci-pdex/STU2.1/provider-access-api.html",
		Kinds: []Kind{Snapshot, Download, Delta},
		kinds: map[Kind][]Param{
			Snapshot: exportType(Snapshot),
			Download: exportType(Download),
			Delta:    exportType(Delta),
		},
		// EDITIONS.md §2: download and delta SHALL update the Group.member
		// extensions; whether snapshot does is an open question, read here
		// as "it does not" (a snapshot is for viewing).
		Tracking:              TrackGroupMember,
		TrackingKinds:         []Kind{Download, Delta},
		LastDownloadExtension: ExtLastTransmission,
		CapabilityStatement:   CapabilityProviderAccess,
		GroupProfiles:         []string{ProfileATRGroup, ProfileProviderGroup},
		IGVersions:            []string{"2.1.0"},
	},
	{
		Name:  "2.2.0",
		Title: "PDex STU 2.2 (Provider Access trial use; adds $provider-member-match)",
		Page:  "http://hl7.org/fhir/us/davinci-pdex/STU2.2/provider-access-api.html",
		Kinds: []Kind{Snapshot, Download, Delta},
		kinds: map[Kind][]Param{
			Snapshot: exportType(Snapshot),
			Download: exportType(Download),
			Delta:    exportType(Delta),
		},
		// FHIR-55987 removed the tracking extensions: the payer keeps an
		// internal audit trail instead (§pdex-349).
		Tracking:            TrackNone,
		DeltaNeedsSince:     true,
		MemberMatch:         true,
		CapabilityStatement: CapabilityProviderAccess,
		GroupProfiles:       []string{ProfileATRGroup, ProfileProviderGroup},
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
