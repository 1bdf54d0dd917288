package catalog

import "maps"

// The requirements of editions 2.1.0 and 2.2.0 (EDITIONS.md §7 is the
// table), and how the requirements every edition shares read in them. The
// 2.1.0 text is the Provider Access page at tag 2.1.0, whose statements are
// unnumbered (its section titles are cited); the 2.2.0 statement numbers are
// those of provider-access-api.md and, for v2, provider-access-api-v2.md at
// davinci-epdx@444e07e9. 2.1.0 marks the page informative: its SHALLs are
// tested as SHALLs of that edition.

const (
	e21      = "PDex 2.1.0, Provider Access API (provider-access-api.md at tag 2.1.0)"
	e22      = "PDex 2.2.0, Provider Access API (provider-access-api.md)"
	e22v2    = "PDex 2.2.0, Provider Access API v2 (provider-access-api-v2.md)"
	groupFSH = "pdex-provider-group (input/fsh/ProfilePDexProviderGroup.fsh)"
	paServer = "PDex CapabilityStatement pdex-provider-access-server"
	matchOD  = "OperationDefinition ProviderMemberMatch (input/fsh/Operation-provider-member-match.fsh)"
	from21   = "2.1.0"
	from22   = "2.2.0"
)

var (
	both21 = []string{from21, from22}
	only21 = []string{from21}
	only22 = []string{from22}
)

var editionRequirements = []Requirement{
	// Discovery
	{ID: "PA-CAP-21", Level: SHOULD, Area: "Discovery", Editions: both21,
		Source: paServer + " (new in 2.1.0; EDITIONS.md §5); FHIR R4 CapabilityStatement.instantiates",
		Text:   "The CapabilityStatement says it instantiates pdex-provider-access-server in the edition's version, so that a client can tell which edition the server implements."},
	{ID: "PA-CAP-22", Level: SHALL, Area: "Discovery", Editions: both21,
		Source: paServer + "; 2.1.0 StructureDefinition-pdex-provider-group-notes.md (group-code)",
		Text:   "The CapabilityStatement declares Group search by code.",
		In: map[string]Variant{from22: {Source: paServer + " 2.2.0 (searchParam expectations SHALL); " + e22 + " §pdex-396",
			Text: "The CapabilityStatement declares Group search by code and by characteristic-value-reference."}}},
	// Group
	{ID: "PA-GROUP-21", Level: SHALL, Area: "Group", Editions: both21,
		Source: e21 + ", Attribution List (PDexProviderGroup SHALL be used); " + groupFSH,
		Text:   "The attribution Group meets pdex-provider-group: Group.code and each characteristic.code are PdexMemberAttributionCS#pdexprovidergroup, characteristic.exclude is false, a characteristic names the provider in valueReference, and the opted-out count and the Group.member tracking extensions, when present, have their types.",
		In:     map[string]Variant{from22: {Source: e22 + " §pdex-347; " + groupFSH + " (the member extensions removed, FHIR-55987)"}}},
	{ID: "PA-GROUP-22", Level: SHALL, Area: "Group", Editions: both21,
		Source: e21 + ", Searching for Attributed Groups; SearchParameter group-code",
		Text:   "Group search by code PdexMemberAttributionCS|pdexprovidergroup finds the attribution Group.",
		In:     map[string]Variant{from22: {Source: e22 + " §pdex-396; SearchParameter group-code"}}},
	{ID: "PA-GROUP-23", Level: SHALL, Area: "Group", Editions: only22,
		Source: paServer + " 2.2.0; SearchParameter pdex-group-characteristic-value-reference (FHIR-51845)",
		Text:   "Group search by characteristic-value-reference with the provider the Group is attributed to finds the attribution Group."},
	// Export kinds (2.1.0's exportType)
	{ID: "PA-KIND-01", Level: SHALL, Area: "exportType", Editions: both21,
		Source: e21 + ", exportType", In: map[string]Variant{from22: {Source: e22 + " §pdex-361; " + e22v2 + " §pdex-297"}},
		Text: "A kick-off with each exportType value of the edition (hl7.fhir.us.davinci-pdex#provider-snapshot, #provider-download, #provider-delta) is accepted (202)."},
	{ID: "PA-KIND-02", Level: SHALL, Area: "exportType", Editions: both21,
		Source: e21 + ", exportType (download: data stored in the patient record; snapshot: data for viewing; inferred: the same data)",
		Text:   "A provider-download export holds the resources a provider-snapshot export of the same members and types holds, and no other."},
	{ID: "PA-KIND-03", Level: SHOULD, Area: "exportType", Editions: both21,
		Source: e21 + ", exportType (\"SHALL have one of the following values\"); open question EDITIONS.md §9.2 (FHIR-48922)",
		Text:   "A kick-off whose exportType is not one of the edition's values (2.0.0's bare hl7.fhir.us.davinci-pdex, an unknown URL) is refused with 400 and an OperationOutcome."},
	{ID: "PA-KIND-04", Level: SHOULD, Area: "exportType", Editions: both21,
		Source: "changehistory.md 2.1.0 (\"Removed ExportModeVS\"); " + bulk + ", Kick-off (unsupported parameters)",
		Text:   "A kick-off with 2.0.0's exportMode parameter, which the edition removed, is refused with 400 and an OperationOutcome."},
	{ID: "PA-KIND-05", Level: SHALL, Area: "exportType", Editions: both21,
		Source: e21 + ", exportType (provider-delta: new or updated data); " + bulk + ", _since",
		In:     map[string]Variant{from22: {Source: e22 + " §pdex-361/363 (the client SHALL send _since with provider-delta)"}},
		Text:   "A provider-delta export with _since holds only resources changed since then, and every such resource of those members and types."},
	{ID: "PA-KIND-06", Level: SHOULD, Area: "exportType", Editions: both21,
		Source: e21 + ", exportType (\"an optional parameter\"); open question EDITIONS.md §9.2",
		Text:   "A kick-off without exportType is accepted."},
	// Download tracking (2.1.0's Group.member extensions)
	{ID: "PA-TRACK-01", Level: SHALL, Area: "Download tracking", Editions: only21,
		Source: e21 + ", Attribution List, _type, _typeFilter (\"SHALL record\"); " + groupFSH,
		Text:   "A provider-download export with _type and _typeFilter sets, on the Group.member of each exported member, base-ext-last-transmission to the export's time and base-ext-last-types and base-ext-last-typefilter to _type and _typeFilter as sent, replacing earlier values; a member not exported keeps its values."},
	{ID: "PA-TRACK-02", Level: SHALL, Area: "Download tracking", Editions: only21,
		Source: e21 + ", _type (\"the Date/Time of the Export Transaction or the value of the _until parameter, if it is earlier\")",
		Text:   "When _until is earlier than the export, base-ext-last-transmission records _until."},
	{ID: "PA-TRACK-03", Level: SHALL, Area: "Download tracking", Editions: only21,
		Source: e21 + ", Attribution List (the extensions \"SHALL be updated by the $davinci-data-export\"), _type",
		Text:   "A provider-delta export records the same on the Group.member of each exported member."},
	{ID: "PA-TRACK-22", Level: SHOULD, Area: "Download tracking", Editions: only22,
		Source: e22 + " §pdex-349; FHIR-55987 (the member extensions deleted); inferred: an export does not change the Group",
		Text:   "An export leaves no base-ext-last-transmission, -last-types or -last-typefilter extension on Group.member: 2.2.0 removed them; the payer keeps an internal audit trail."},
	// Opt-out
	{ID: "PA-OPT-02", Level: SHALL, Area: "Opt-out", Editions: both21,
		Source: e21 + ", Attribution List (\"opted-out members SHALL be omitted from the Provider Attribution list\")",
		In:     map[string]Variant{from22: {Source: e22 + " §pdex-343/344"}},
		Text:   "Members who opted out are not listed in the attribution Group, while members who did not are."},
	// Consent
	{ID: "PA-CONSENT-01", Level: SHALL, Area: "Consent", Editions: both21,
		Source: e21 + ", Member Opt-out (\"SHALL implement the pdex-provider-consent\"); pdex-provider-consent",
		In:     map[string]Variant{from22: {Level: MAY, Source: e22v2 + " §pdex-271/275 (FHIR-56433): MAY accept Consent create and honour it"}},
		Text:   "A pdex-provider-consent Consent that opts a member out (provision deny, action disclose) is accepted, and so is its update that revokes the opt-out (provision permit)."},
	{ID: "PA-CONSENT-02", Level: SHALL, Area: "Consent", Editions: both21,
		Source: e21 + ", Da Vinci Data Export Operation (\"SHALL check the consent status for each member at the time of execution\")",
		In:     map[string]Variant{from22: {Source: e22 + " §pdex-358; " + e22v2 + " §pdex-294"}},
		Text:   "Once a member opts out, an export that names it holds none of its data; once it revokes the opt-out, its data is exported again."},
	// Member match (2.2.0, v2)
	{ID: "PA-MATCH-01", Level: SHALL, Area: "Member match", Editions: only22,
		Source: e22v2 + " §pdex-241a/259/260; " + matchOD,
		Text:   "$provider-member-match returns, in MatchedMembers, a Group with an id listing each member the provider asked for with its demographics, coverage and a treatment attestation the payer can verify."},
	{ID: "PA-MATCH-02", Level: SHALL, Area: "Member match", Editions: only22,
		Source: e22v2 + " §pdex-258/261",
		Text:   "A member the payer cannot match, or whose attestation it cannot verify, is not in MatchedMembers and is returned in NonMatchedMembers."},
	{ID: "PA-MATCH-03", Level: SHALL, Area: "Member match", Editions: only22,
		Source: e22v2 + " §pdex-245/258/259/261/261a",
		Text:   "A member who opted out is never in MatchedMembers; it is returned in ConsentConstrainedMembers or, when the payer suppresses that Group, in NonMatchedMembers."},
	{ID: "PA-MATCH-04", Level: SHALL, Area: "Member match", Editions: only22,
		Source: e22v2 + " §pdex-255/257; " + matchOD + "; FHIR R4 operations (OperationOutcome on error)",
		Text:   "A malformed request (not a Parameters, no MemberBundle, a MemberBundle without its attestation or coverage) is refused with 4xx and an OperationOutcome."},
	{ID: "PA-MATCH-05", Level: SHALL, Area: "Member match", Editions: only22,
		Source: e22v2 + " §pdex-262/266/291/292",
		Text:   "The provider can read the matched Group, find it by search, and export it with $davinci-data-export; the export holds data of the matched members only, and of each of them."},
	{ID: "PA-MATCH-06", Level: SHALL, Area: "Member match", Editions: only22,
		Source: e22v2 + " §pdex-401 (provider-parameters-multi-member-match-bundle-out); pdex-provider-member-match, pdex-provider-member-no-match, pdex-member-opt-out (differentials only: checked by the project's rules, validators/differential)",
		Text:   "The response Groups meet their profiles: type person, actual true, the match-result code, the payer as managingEntity, members as their profile says."},
}

// editionVariants are how requirements every edition shares read in 2.1.0
// and 2.2.0, where EDITIONS.md §7 gives them another level or source.
var editionVariants = map[string]map[string]Variant{
	"PA-EXP-01": {
		from21: {Source: e21 + ", Attribution List driven (\"SHALL be submitted using a HTTP POST\", Prefer: respond-async); " + bulk + ", Kick-off"},
		from22: {Source: e22 + " §pdex-338/339/340; " + bulk + ", Kick-off"}},
	"PA-BULK-02": {
		from21: {Source: e21 + ", Attribution List driven (\"The HTTP Header SHALL include: Prefer: respond-async\")"},
		from22: {Source: e22 + " §pdex-339"}},
	"PA-SUB-02": {
		from21: {Source: e21 + ", patient (\"SHALL ignore references to patients that are invalid, or not a member\"); " + atr},
		from22: {Source: e22 + " §pdex-359/360; " + atr}},
	"PA-TYPE-01": {
		from21: {Source: e21 + ", _type (\"all available resources SHALL be returned\"); " + bulk + ", _type"},
		from22: {Source: e22 + " §pdex-372; " + bulk + ", _type"}},
	"PA-OPT-01": {
		from21: {Source: e21 + ", Member Opt-out and Da Vinci Data Export Operation (consent checked at execution); " + cms},
		from22: {Source: e22 + " §pdex-358; " + e22v2 + " §pdex-294; " + cms}},
	"PA-GROUP-02": {
		from21: {Source: e21 + ", Attribution List driven (\"Attribution lists SHALL be searchable\")"},
		from22: {Source: e22 + " §pdex-350"}},
	"PA-GROUP-03": {
		from21: {Source: "Da Vinci ATR atr-group, the parent of " + groupFSH},
		from22: {Source: "Da Vinci ATR atr-group, the parent of " + groupFSH + "; " + e22 + " §pdex-347"}},
	"PA-AUTH-09": {
		from21: {Source: e21 + ", Access and Refresh Tokens (requiresAccessToken=true SHALL be protected as the kick-off)"},
		from22: {Source: e22 + " §pdex-377"}},
	"PA-AUTH-10": {
		from21: {Source: e21 + ", Da Vinci Data Export Operation - PDex Provider Use Case (restricted to the Representative's Groups); " + atr},
		from22: {Source: e22 + " §pdex-353..357; " + e22v2 + " §pdex-290..292"}},
	"PA-CAP-01": {
		from21: {Source: paServer + " (Group read, search-type SHALL; identifier, characteristic SHALL)"},
		from22: {Source: paServer + " 2.2.0; " + e22 + " §pdex-350"}},
	"PA-FIN-01": {
		from21: {Source: cms + "; " + e21 + " (financial data MAY be included for value-based care: allowFinancial)"},
		from22: {Source: cms + "; " + e22 + " §pdex-323 (MAY for value-based care: allowFinancial)"}},
	"PA-FIN-02": {
		from21: {Level: SHOULD, Source: e21 + ", Da Vinci Data Export Payload (CARIN Basis profiles; datamapping.md, informative)",
			Text: "Claim EOBs claim their CARIN Basis profile (C4BB-ExplanationOfBenefit-*-Basis)."},
		from22: {Source: e22 + " §pdex-75 (datamapping.md: CARIN Basis profiles)",
			Text: "Claim EOBs claim their CARIN Basis profile (C4BB-ExplanationOfBenefit-*-Basis)."}},
	"PA-PROF-01": {
		from21: {Source: "PDex 2.1.0; US Core 3.1.1 or 6.1; CARIN BB 2.1.0 Basis (not offline: reported as not checked)"},
		from22: {Source: "PDex 2.2.0 §pdex-74/75/76; US Core 3.1.1, 6.1 or 7.0; CARIN BB 2.2.0 Basis (not offline: reported as not checked)"}},
}

// withEditions joins the edition requirements to the shared ones and gives
// the shared ones their readings in later editions.
func withEditions(shared, later []Requirement, variants map[string]map[string]Variant) []Requirement {
	out := make([]Requirement, 0, len(shared)+len(later))
	for _, r := range shared {
		if v, ok := variants[r.ID]; ok {
			in := maps.Clone(r.In)
			if in == nil {
				in = map[string]Variant{}
			}
			for ed, vv := range v {
				if r.AppliesTo(ed) {
					in[ed] = vv
				}
			}
			r.In = in
		}
		out = append(out, r)
	}
	return append(out, later...)
}
