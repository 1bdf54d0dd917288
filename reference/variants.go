package reference

import (
	"fmt"
	"slices"
	"strings"
)

// Variant names: each switches on a behaviour that a conformant server may
// legitimately show, where the specification leaves room. The whole suite
// must pass against every variant (runner tests prove it), so that no spec
// holds one reading of the specification against a server that follows
// another.
const (
	// VariantSlowJobs keeps every export running for 1.5 s, so that status
	// requests see it in progress (202 with Retry-After) several times.
	VariantSlowJobs = "slow-jobs"
	// VariantExclusiveBounds reads _since and _until as strict bounds.
	VariantExclusiveBounds = "exclusive-bounds"
	// VariantSinceNewMembers adds, to a _since export, all the data of
	// members who joined the Group after _since.
	VariantSinceNewMembers = "since-new-members"
	// VariantSeveralFiles splits every type's output into files of a few
	// lines.
	VariantSeveralFiles = "several-files"
	// VariantOneLastUpdated stores every resource with the same
	// meta.lastUpdated.
	VariantOneLastUpdated = "one-lastupdated"
	// VariantOptedOutOutsideGroup leaves opted-out members out of the
	// attribution Group.
	VariantOptedOutOutsideGroup = "opted-out-outside-group"
	// VariantUSCoreProfiles has Patients, Practitioners and Organizations
	// claim their US Core profiles instead of CARIN's.
	VariantUSCoreProfiles = "us-core-profiles"
	// VariantTrackSnapshot records 2.1.0's Group.member tracking on
	// provider-snapshot exports too.
	VariantTrackSnapshot = "track-snapshot"
	// VariantSuppressConstrained reports opted-out members of a member
	// match as not matched instead of consent-constrained.
	VariantSuppressConstrained = "suppress-consent-constrained"
	// VariantMemberMatchSync answers $provider-member-match synchronously.
	VariantMemberMatchSync = "member-match-sync"
)

// Variant describes one conformant variation of the server.
type Variant struct {
	Name        string
	Description string
	// Reading cites the text that allows the variation.
	Reading string
	// Editions the variant exists in; empty means every edition.
	Editions []string
	// MaySkip names the specs that may skip under the variant, because it
	// takes away what they judge by (a requirement ID, or "ID: text" as in
	// Fault.Breaks). Their skip must say why; they must not fail.
	MaySkip []string
}

// Variants lists every variant switch.
func Variants() []Variant { return slices.Clone(variantTable) }

var variantTable = []Variant{
	{Name: VariantSlowJobs, Description: "keep every export running for at least 1.5 s: status requests answer 202 with Retry-After several times",
		Reading: "Bulk Data export.html, Status Request: in progress, the server answers 202 (X-Progress and Retry-After optional); an export may take any time"},
	{Name: VariantExclusiveBounds, Description: "export with _since only what changed strictly after it, and with _until only what changed strictly before it (the server's default includes both boundaries)",
		Reading: "Bulk Data export.html, _since: included \"if their state has changed after the supplied time\"; ATR _until: \"Resources updated before the specified time\": both readings of the boundary instant are the server's"},
	{Name: VariantSinceNewMembers, Description: "with _since, also export all the data of members whose attribution (Group.member.period.start) began after _since",
		Reading: "Bulk Data export.html, _since: \"the server MAY return additional resources modified prior to the supplied time if the resources belong to the patient compartment of a patient added to the Group after the supplied time\""},
	{Name: VariantSeveralFiles, Description: "split each type's output into files of at most 7 lines: several output entries per type in the manifest",
		Reading: "Bulk Data export.html, Response - Complete Status: output is an array of files, \"Each file item SHALL contain ... type\"; one type may span several files (Output File Organization)"},
	{Name: VariantOneLastUpdated, Description: "store every resource with one and the same meta.lastUpdated (a data set loaded at once)",
		Reading: "FHIR R4 Resource.meta.lastUpdated: when the resource last changed on the server; nothing asks for distinct values. _since and _until cannot select a part of such data, so their specs skip, saying so",
		MaySkip: []string{"PA-SINCE-01", "PA-SINCE-02", "PA-KIND-05"}},
	{Name: VariantOptedOutOutsideGroup, Description: "leave opted-out members out of the attribution Group (read, search and export)",
		Reading:  "PDex 2.0.0 is silent on whether an opted-out member stays listed in the Group (2.1.0 requires leaving them out, §pdex-343/344); either way their data is never exported",
		Editions: []string{"2.0.0"}},
	{Name: VariantUSCoreProfiles, Description: "Patients, Practitioners and Organizations claim US Core 3.1.1 profiles instead of the CARIN ones",
		Reading: "SPEC §6: Coverage, Patient, Organization, Practitioner: CARIN C4BB profiles \"(or US Core equivalents)\"; PDex datamapping.md maps them to US Core"},
	{Name: VariantTrackSnapshot, Description: "record lastTransmitted, lastResources and lastFilters on provider-snapshot exports too",
		Reading:  "PDex 2.1.0 provider-access-api.md: the member extensions \"SHALL be updated by the $davinci-data-export PDex Use Case Operation\" and _type/_typeFilter \"SHALL record\" with no kind exempted; only download is tied to tracking explicitly (EDITIONS.md §2, §9.3)",
		Editions: []string{"2.1.0"}},
	{Name: VariantSuppressConstrained, Description: "report opted-out members of a member match in NonMatchedMembers, with no ConsentConstrainedMembers Group",
		Reading:  "PDex 2.2.0 §pdex-261a: the payer SHOULD suppress ConsentConstrainedMembers when opt-out status is sensitive; the response Parameters profile makes it 0..1",
		Editions: []string{"2.2.0"}},
	{Name: VariantMemberMatchSync, Description: "answer $provider-member-match with 200 and the response Parameters, even under Prefer: respond-async",
		Reading:  "The ProviderMemberMatch OperationDefinition declares out parameters and the IG has a Parameters response example; provider-access-api-v2.md describes the async form (EDITIONS.md §1, §9.4: accept both)",
		Editions: []string{"2.2.0"}},
}

type variants map[string]bool

func (v variants) has(name string) bool { return v[name] }

// parseVariants checks variant names against the table and the edition.
func parseVariants(names []string, edition string) (variants, error) {
	v := variants{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		i := slices.IndexFunc(variantTable, func(k Variant) bool { return k.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown variant %q (see serve --list-variants)", n)
		}
		if eds := variantTable[i].Editions; len(eds) > 0 && !slices.Contains(eds, edition) {
			return nil, fmt.Errorf("variant %q exists in edition %s, not %s", n, strings.Join(eds, " and "), edition)
		}
		v[n] = true
	}
	return v, nil
}
