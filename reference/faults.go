package reference

import (
	"fmt"
	"slices"
	"strings"
)

// Fault names: each breaks exactly one behaviour of the reference server, so
// that the project's tests can prove every conformance spec able to fail.
const (
	FaultAnyExportType       = "accept-any-export-type"
	FaultAnyExportMode       = "accept-any-export-mode"
	FaultLeakOptedOut        = "leak-opted-out"
	FaultKeepFinancial       = "keep-financial"
	FaultIgnoreSince         = "ignore-since"
	FaultIgnoreUntil         = "ignore-until"
	FaultIgnoreType          = "ignore-type"
	FaultIgnoreTypeFilter    = "ignore-type-filter"
	FaultIgnorePatient       = "ignore-patient"
	FaultIncludeNonMember    = "include-non-member"
	FaultSkipLastDownload    = "skip-last-download"
	FaultTrackOnSnapshot     = "track-on-snapshot"
	FaultAppendLastDownload  = "append-last-download"
	FaultWrongContentType    = "wrong-content-type"
	FaultManifestMissing     = "manifest-missing-field"
	FaultWrongCount          = "wrong-count"
	FaultNoAuth              = "no-auth"
	FaultFilesWithoutToken   = "files-without-token"
	FaultIgnoreDelete        = "ignore-delete"
	FaultBreakProfile        = "break-profile"
	FaultAcceptNoPrefer      = "accept-no-prefer"
	FaultAcceptUnknownParam  = "accept-unknown-param"
	FaultNoContentLocation   = "no-content-location"
	FaultMixedTypesInFile    = "mixed-types-in-file"
	FaultCapabilityNoExport  = "capability-no-export"
	FaultGroupSearchBroken   = "group-search-broken"
	FaultRelativeURLs        = "relative-urls"
	FaultNoErrorForNonMember = "no-error-for-non-member"
	FaultAcceptBadSignature  = "accept-bad-signature"
	FaultIgnoreAudience      = "ignore-audience"
	FaultIgnoreExpiry        = "ignore-expiry"
	FaultAllowReplay         = "allow-replay"
	FaultAcceptUnknownKid    = "accept-unknown-kid"
	FaultNoExpires           = "no-expires"
	FaultManifestContentType = "manifest-content-type"
	FaultInvalidR4           = "invalid-r4"
	FaultRefuseNDJSONAlias   = "refuse-ndjson-alias"
	FaultRefuseOutputFormat  = "refuse-output-format"
	FaultNoRetryAfter        = "no-retry-after"
	FaultPlainTextErrors     = "plain-text-errors"
	FaultRefusePDexType      = "refuse-pdex-export-type"

	FaultCapabilityNoSearch    = "capability-no-group-search"
	FaultSmartConfigIncomplete = "smart-config-incomplete"
	FaultTokenWithoutExpiresIn = "token-without-expires-in"
	FaultAcceptUnknownClient   = "accept-unknown-client"
	FaultAcceptWrongGrantType  = "accept-wrong-grant-type"
	FaultAcceptWrongAssertType = "accept-wrong-assertion-type"
	FaultTrustHeaderAlg        = "trust-header-alg"
	FaultIgnoreEntitlement     = "ignore-entitlement"
	FaultNoGroupRead           = "no-group-read"
	FaultGroupBadShape         = "group-bad-shape"
	FaultFinancialProfile      = "keep-financial-profile"
	FaultShareJobs             = "share-jobs"
	FaultRefuseGetKickoff      = "refuse-get-kickoff"

	// Subtle faults, modelled on real implementation mistakes: each passes a
	// check that looks at one direction only, or at one type only.
	FaultPartialMembers            = "partial-members"
	FaultPartialMemberData         = "partial-member-data"
	FaultSinceSkipsClaims          = "since-skips-claims"
	FaultUntilLookback             = "until-lookback"
	FaultUntilAsSince              = "until-as-since"
	FaultStaleLastDownload         = "stale-last-download"
	FaultDuplicateLastDownload     = "duplicate-last-download"
	FaultTrackAllMembers           = "track-all-members"
	FaultTypeFilterAllTypes        = "type-filter-all-types"
	FaultIgnoreGroupIdentifier     = "ignore-group-identifier"
	FaultIgnoreGroupCharacteristic = "ignore-group-characteristic"
	FaultNoPrefer404               = "no-prefer-404"
	FaultUnknownParam404           = "unknown-param-404"
	FaultMisattributeImmunization  = "misattribute-immunizations"
	FaultLeakOptedOutNamed         = "leak-opted-out-when-named"
	FaultOptedOutEmptiesExport     = "opted-out-empties-export"
	FaultNonMemberEmptiesExport    = "non-member-empties-export"
	FaultVagueNonMemberError       = "vague-non-member-error"
	FaultAcceptUnknownGroup        = "accept-unknown-group"

	// Faults of editions 2.1.0 and 2.2.0.
	FaultRefuseExportKind         = "refuse-provider-delta"
	FaultRefuseDownload           = "refuse-provider-download"
	FaultRefuseSnapshot           = "refuse-provider-snapshot"
	FaultRequireExportType        = "require-export-type"
	FaultDownloadDiffers          = "download-differs"
	FaultMatchGroupHidden         = "match-group-hidden"
	FaultSkipMemberTracking       = "skip-member-tracking"
	FaultTrackEveryMember         = "track-every-member"
	FaultAppendMemberTracking     = "append-member-tracking"
	FaultTrackIgnoresUntil        = "track-ignores-until"
	FaultNormalizeLastTypes       = "normalize-last-types"
	FaultTrackOnPatient           = "track-on-patient"
	FaultKeepMemberTracking       = "keep-member-tracking"
	FaultListOptedOut             = "list-opted-out"
	FaultATRGroupOnly             = "atr-group-only"
	FaultGroupSearchNoCode        = "group-search-no-code"
	FaultCapabilityNoInstantiates = "capability-no-instantiates"
	FaultCapabilityOldSearch      = "capability-old-search"
	FaultRefuseConsentWrite       = "refuse-consent-write"
	FaultIgnoreWrittenConsent     = "ignore-written-consent"
	FaultMatchNobody              = "match-nobody"
	FaultMatchWithoutAttestation  = "match-without-attestation"
	FaultMatchDropUnmatched       = "match-drops-unmatched"
	FaultMatchOptedOut            = "match-opted-out"
	FaultMatchAcceptMalformed     = "match-accepts-malformed"
	FaultMatchGroupNotExportable  = "match-group-not-exportable"
	FaultMatchGroupBadShape       = "match-group-bad-shape"
)

// Editions, as the fault table names them.
var (
	only200 = []string{"2.0.0"}
	only210 = []string{"2.1.0"}
	only220 = []string{"2.2.0"}
	from210 = []string{"2.1.0", "2.2.0"}
)

// Fault is one switch that breaks one behaviour of the server, declared
// once: its name, what it does, and what it breaks in the harness's terms.
type Fault struct {
	Name        string
	Description string
	// Breaks names the conformance specs the fault must make fail, and so
	// prove able to fail: a requirement ID (every spec of it) or
	// "ID: text", the specs of that requirement whose name ends with text.
	// An entry whose requirement an edition does not have is not expected
	// to fail in that edition (a fault of every edition names what it
	// breaks in each). The fault tables (runner tests) are generated from
	// it: every other spec must end as it does against the clean server,
	// or be blocked.
	Breaks []string
	// BreaksIn adds, per edition, what the fault breaks there besides
	// Breaks (leaking opted-out members' data breaks the Group's
	// membership only where the Group leaves them out).
	BreaksIn map[string][]string
	// Editions the fault exists in; empty means every edition the server
	// implements.
	Editions []string
	// Variants are switched on with the fault, when it can only show under
	// them (Retry-After only shows on an export still running).
	Variants []string
}

// Faults lists every fault switch.
func Faults() []Fault { return slices.Clone(faultTable) }

var faultTable = []Fault{
	{Name: FaultAnyExportType, Description: "accept any exportType, or none",
		Breaks: []string{"PA-ETYPE-01", "PA-KIND-03"}},
	{Name: FaultAnyExportMode, Description: "accept any exportMode, or none (2.1.0+: accept the exportMode parameter they removed)",
		Breaks: []string{"PA-MODE-01", "PA-KIND-04"}},
	{Name: FaultLeakOptedOut, Description: "export opted-out members' data",
		Breaks: []string{"PA-OPT-01", "PA-CONSENT-02"},
		// From 2.1.0 the Group leaves opted-out members out: their data is
		// then data of patients who are not members.
		BreaksIn: map[string][]string{"2.1.0": {"PA-EXP-06: exports only members of the Group"}, "2.2.0": {"PA-EXP-06: exports only members of the Group"}}},
	{Name: FaultKeepFinancial, Description: "export claim EOBs with their financial detail",
		Breaks: []string{"PA-FIN-01", "PA-FIN-02"},
		// 2.0.0's claims claim the NonFinancial profiles, whose amounts are
		// max 0; from 2.1.0 they claim CARIN's Basis profiles, which allow
		// amounts (and are not in the offline packages): only the
		// Provider Access rule itself (PA-FIN-01) catches them there.
		BreaksIn: map[string][]string{"2.0.0": {"PA-PROF-01"}}},
	{Name: FaultIgnoreSince, Description: "ignore _since",
		Breaks: []string{"PA-SINCE-01", "PA-KIND-05"}},
	{Name: FaultIgnoreUntil, Description: "ignore _until",
		Breaks: []string{"PA-SINCE-02"}},
	{Name: FaultIgnoreType, Description: "ignore _type",
		Breaks: []string{"PA-TYPE-01", "PA-TYPE-02"}},
	{Name: FaultIgnoreTypeFilter, Description: "ignore _typeFilter",
		Breaks: []string{"PA-TYPE-02"}},
	{Name: FaultIgnorePatient, Description: "ignore patient: export every member",
		Breaks: []string{"PA-SUB-01", "PA-SUB-02", "PA-SUB-03", "PA-MODE-03", "PA-TRACK-01"}},
	{Name: FaultIncludeNonMember, Description: "export a patient who is not a member of the Group",
		Breaks: []string{"PA-EXP-06: exports only members of the Group", "PA-SUB-01", "PA-SUB-02", "PA-MATCH-05: data of the matched members only, and of each"}},
	{Name: FaultSkipLastDownload, Description: "do not record the last download on download exports",
		Breaks: []string{"PA-MODE-03"}, Editions: only200},
	{Name: FaultTrackOnSnapshot, Description: "record the last download on snapshot exports too",
		Breaks: []string{"PA-MODE-02", "PA-MODE-03"}, Editions: only200},
	{Name: FaultAppendLastDownload, Description: "add a new last-download extension instead of replacing the old one",
		Breaks: []string{"PA-MODE-03"}, Editions: only200},
	{Name: FaultWrongContentType, Description: "serve files as application/json",
		Breaks: []string{"PA-EXP-04", "PA-API-01"}},
	{Name: FaultManifestMissing, Description: "leave transactionTime out of the manifest",
		Breaks: []string{"PA-EXP-03", "PA-API-01"}},
	{Name: FaultWrongCount, Description: "report a wrong count for output files",
		Breaks: []string{"PA-EXP-04"}},
	{Name: FaultNoAuth, Description: "require no access token on FHIR endpoints",
		Breaks: []string{"PA-AUTH-08", "PA-AUTH-09", "PA-AUTH-10"}},
	{Name: FaultFilesWithoutToken, Description: "serve files without a token while the manifest says requiresAccessToken",
		Breaks: []string{"PA-AUTH-09", "PA-AUTH-10: does not let a client download another client's files"}},
	{Name: FaultIgnoreDelete, Description: "accept DELETE on a job but keep it",
		Breaks: []string{"PA-BULK-04"}},
	{Name: FaultBreakProfile, Description: "export one Condition that breaks its US Core profile",
		Breaks: []string{"PA-PROF-01"}},
	{Name: FaultAcceptNoPrefer, Description: "accept a kick-off without Prefer: respond-async",
		Breaks: []string{"PA-BULK-02"}},
	{Name: FaultAcceptUnknownParam, Description: "accept an unsupported parameter in strict mode (2.1.0+: exportMode too)",
		Breaks: []string{"PA-BULK-03", "PA-KIND-04"}},
	{Name: FaultNoContentLocation, Description: "answer a kick-off without Content-Location",
		Breaks: []string{"PA-EXP-01", "PA-BULK-04", "PA-API-01"}},
	{Name: FaultMixedTypesInFile, Description: "write Coverage lines into the Patient file",
		Breaks: []string{"PA-EXP-03"}},
	{Name: FaultCapabilityNoExport, Description: "leave the operations (davinci-data-export) out of the CapabilityStatement",
		Breaks: []string{"PA-CAP-02"}},
	{Name: FaultGroupSearchBroken, Description: "Group search by identifier or characteristic returns no match",
		Breaks: []string{"PA-GROUP-02"}},
	{Name: FaultRelativeURLs, Description: "give relative file URLs in the manifest",
		Breaks: []string{"PA-EXP-03", "PA-API-01"}},
	{Name: FaultNoErrorForNonMember, Description: "report no OperationOutcome for a patient that is not a member",
		Breaks: []string{"PA-SUB-03"}},
	{Name: FaultAcceptBadSignature, Description: "token endpoint: accept a client assertion with a bad signature",
		Breaks: []string{"PA-AUTH-02"}},
	{Name: FaultIgnoreAudience, Description: "token endpoint: accept a client assertion for another audience",
		Breaks: []string{"PA-AUTH-03"}},
	{Name: FaultIgnoreExpiry, Description: "token endpoint: accept a client assertion with a missing, past or too distant exp",
		Breaks: []string{"PA-AUTH-04"}},
	{Name: FaultAllowReplay, Description: "token endpoint: accept a replayed jti",
		Breaks: []string{"PA-AUTH-05"}},
	{Name: FaultAcceptUnknownKid, Description: "token endpoint: accept a client assertion whose kid is not registered",
		Breaks: []string{"PA-AUTH-06: with a kid that is not registered"}},
	{Name: FaultNoExpires, Description: "leave Expires off the completed status response",
		Breaks: []string{"PA-EXP-07"}},
	{Name: FaultManifestContentType, Description: "serve the manifest as text/plain",
		Breaks: []string{"PA-EXP-02", "PA-API-01"}},
	{Name: FaultInvalidR4, Description: "export one Observation that is not valid R4 (a status outside its required value set)",
		Breaks: []string{"PA-EXP-05", "PA-PROF-01"}},
	{Name: FaultRefuseOutputFormat, Description: "refuse the _outputFormat parameter as unsupported, whatever its value",
		Breaks: []string{"PA-BULK-01"}},
	{Name: FaultRefuseNDJSONAlias, Description: "accept only application/fhir+ndjson as _outputFormat",
		Breaks: []string{"PA-BULK-01: spelling: application/ndjson", "PA-BULK-01: spelling: ndjson"}},
	{Name: FaultNoRetryAfter, Description: "leave Retry-After off in-progress status responses",
		Breaks:   []string{"PA-BULK-05"},
		Variants: []string{VariantSlowJobs}},
	{Name: FaultPlainTextErrors, Description: "answer kick-off errors with plain text instead of an OperationOutcome",
		Breaks: []string{"PA-BULK-02", "PA-BULK-03", "PA-BULK-06", "PA-ETYPE-01", "PA-MODE-01", "PA-KIND-03", "PA-KIND-04", "PA-API-01"}},
	{Name: FaultRefusePDexType, Description: "refuse exportType hl7.fhir.us.davinci-pdex, wanting a 2.1.0-style value instead",
		Breaks: []string{"PA-ETYPE-02", "PA-EXP-01"}, Editions: only200},
	{Name: FaultCapabilityNoSearch, Description: "leave Group search-type and its search parameters out of the CapabilityStatement",
		Breaks: []string{"PA-CAP-01", "PA-CAP-22"}},
	{Name: FaultSmartConfigIncomplete, Description: "leave token_endpoint_auth_methods_supported out of the SMART configuration",
		Breaks: []string{"PA-SMART-01"}},
	{Name: FaultTokenWithoutExpiresIn, Description: "token endpoint: leave expires_in out of the token response",
		Breaks: []string{"PA-AUTH-01", "PA-API-01"}},
	{Name: FaultAcceptUnknownClient, Description: "token endpoint: take an unknown client id for the first registered client",
		Breaks: []string{"PA-AUTH-06: from a client that is not registered"}},
	{Name: FaultAcceptWrongGrantType, Description: "token endpoint: accept any grant_type, not only client_credentials",
		Breaks: []string{"PA-AUTH-07: with a grant_type other than client_credentials"}},
	{Name: FaultAcceptWrongAssertType, Description: "token endpoint: accept any client_assertion_type, not only jwt-bearer",
		Breaks: []string{"PA-AUTH-07: with a client_assertion_type other than jwt-bearer"}},
	{Name: FaultTrustHeaderAlg, Description: "token endpoint: trust the assertion's alg header: accept alg none, and HS256 keyed with the client's public key",
		Breaks: []string{"PA-AUTH-11"}},
	{Name: FaultIgnoreEntitlement, Description: "let every client read and export every Group",
		Breaks: []string{"PA-AUTH-10: does not let a client read a Group it is not entitled to", "PA-AUTH-10: does not let a client export a Group it is not entitled to"}},
	{Name: FaultNoGroupRead, Description: "answer Group read with 404",
		Breaks: []string{"PA-GROUP-01", "PA-GROUP-02", "PA-GROUP-03", "PA-AUTH-01"}},
	{Name: FaultGroupBadShape, Description: "serve the Group without managingEntity",
		Breaks: []string{"PA-GROUP-03"}},
	{Name: FaultFinancialProfile, Description: "strip claim EOBs but leave meta.profile naming the financial CARIN profile",
		Breaks: []string{"PA-FIN-02", "PA-PROF-01"}},
	{Name: FaultShareJobs, Description: "let any client poll, cancel and download any client's jobs and files",
		Breaks: []string{"PA-AUTH-10: does not let a client poll another client's export", "PA-AUTH-10: does not let a client download another client's files"}},
	{Name: FaultRefuseGetKickoff, Description: "answer a GET kick-off with 405 (POST only)",
		Breaks: []string{"PA-BULK-07"}},

	{Name: FaultPartialMembers, Description: "export only the first half of the members in a full Group export (a paging bug): no outsider, but not every member",
		Breaks: []string{"PA-EXP-06: exports every member of the Group who has not opted out"},
		// 2.2.0's matched Groups are exported as Group exports too.
		BreaksIn: map[string][]string{"2.2.0": {"PA-MATCH-05: data of the matched members only, and of each"}}},
	{Name: FaultPartialMemberData, Description: "leave the Conditions of every other member out of a full Group export, while exports naming the members carry them",
		Breaks: []string{"PA-SUB-01"}},
	{Name: FaultSinceSkipsClaims, Description: "apply _since to every type but ExplanationOfBenefit (claims come from another store)",
		Breaks: []string{"PA-SINCE-01", "PA-KIND-05"}},
	{Name: FaultUntilLookback, Description: "apply _until as a one-year window ending at it: nothing after it, but older data left out",
		Breaks: []string{"PA-SINCE-02"}},
	{Name: FaultUntilAsSince, Description: "apply _until the wrong way round, as a lower bound",
		Breaks: []string{"PA-SINCE-02"}},
	{Name: FaultStaleLastDownload, Description: "record the last download only on a Patient that carries none: later downloads leave the first value",
		Breaks: []string{"PA-MODE-03"}, Editions: only200},
	{Name: FaultDuplicateLastDownload, Description: "record each download twice, two extensions with the same time",
		Breaks: []string{"PA-MODE-03"}, Editions: only200},
	{Name: FaultTrackAllMembers, Description: "record a download on every member of the Group, not only those downloaded",
		Breaks: []string{"PA-MODE-03"}, Editions: only200},
	{Name: FaultTypeFilterAllTypes, Description: "apply every _typeFilter query to every type in _type, so that the other types are filtered too",
		Breaks: []string{"PA-TYPE-02"}},
	{Name: FaultIgnoreGroupIdentifier, Description: "Group search: ignore identifier and return every Group the client may see",
		Breaks: []string{"PA-GROUP-02: finds the Group by identifier, and only Groups with it"}},
	{Name: FaultIgnoreGroupCharacteristic, Description: "Group search: ignore characteristic and return every Group the client may see",
		Breaks: []string{"PA-GROUP-02: finds the Group by characteristic, and only Groups with it"}},
	{Name: FaultNoPrefer404, Description: "answer a kick-off without Prefer: respond-async with 404, as if the operation did not exist",
		Breaks: []string{"PA-BULK-02"}},
	{Name: FaultUnknownParam404, Description: "answer a kick-off with an unsupported parameter with 404 instead of an error naming the parameter",
		Breaks: []string{"PA-BULK-03"}},
	{Name: FaultMisattributeImmunization, Description: "in exports naming members, give each named member the Immunizations of the next member of the Group (an off-by-one join)",
		Breaks: []string{"PA-SUB-01", "PA-SUB-02", "PA-OPT-01: named in patient, and the other member's data"}},
	{Name: FaultLeakOptedOutNamed, Description: "apply opt-out to full Group exports only: an opted-out member named in patient is exported",
		Breaks: []string{"PA-OPT-01: named in patient, and the other member's data", "PA-CONSENT-02"}},
	{Name: FaultOptedOutEmptiesExport, Description: "export nothing at all when an opted-out member is named in patient",
		Breaks: []string{"PA-OPT-01: named in patient, and the other member's data"}},
	{Name: FaultNonMemberEmptiesExport, Description: "export nothing but the error file when a patient that is not a member is named",
		Breaks: []string{"PA-SUB-02"}},
	{Name: FaultVagueNonMemberError, Description: "report an ignored non-member with an OperationOutcome that does not say which patient",
		Breaks: []string{"PA-SUB-03"}},
	{Name: FaultAcceptUnknownGroup, Description: "accept a kick-off on a Group the server does not hold, and export nothing",
		Breaks: []string{"PA-BULK-06"}},

	// 2.1.0 and 2.2.0.
	{Name: FaultRefuseExportKind, Description: "refuse exportType hl7.fhir.us.davinci-pdex#provider-delta",
		Breaks: []string{"PA-KIND-01: #provider-delta", "PA-KIND-05", "PA-TRACK-03"}, Editions: from210},
	{Name: FaultRefuseDownload, Description: "refuse exportType hl7.fhir.us.davinci-pdex#provider-download",
		Breaks: []string{"PA-KIND-01: #provider-download", "PA-KIND-02", "PA-TRACK-01", "PA-TRACK-02", "PA-TRACK-22"}, Editions: from210},
	{Name: FaultRefuseSnapshot, Description: "refuse exportType hl7.fhir.us.davinci-pdex#provider-snapshot, as a 2.0.0 server does",
		Breaks: []string{"PA-KIND-01: #provider-snapshot", "PA-EXP-01"}, Editions: from210},
	{Name: FaultRequireExportType, Description: "refuse a kick-off without exportType, as 2.0.0 required it",
		Breaks: []string{"PA-KIND-06"}, Editions: from210},
	{Name: FaultDownloadDiffers, Description: "leave Observations out of provider-download exports",
		Breaks: []string{"PA-KIND-02"}, Editions: from210},
	{Name: FaultSkipMemberTracking, Description: "record nothing on Group.member after a download or delta export",
		Breaks: []string{"PA-TRACK-01", "PA-TRACK-02", "PA-TRACK-03"}, Editions: only210},
	{Name: FaultTrackEveryMember, Description: "record an export on every member of the Group, not only those whose data went out",
		Breaks: []string{"PA-TRACK-01"}, Editions: only210},
	{Name: FaultAppendMemberTracking, Description: "add new Group.member tracking extensions instead of replacing the earlier ones",
		Breaks: []string{"PA-TRACK-01", "PA-TRACK-02", "PA-TRACK-03", "PA-GROUP-21"}, Editions: only210},
	{Name: FaultTrackIgnoresUntil, Description: "record the transaction time as lastTransmitted even when _until is earlier",
		Breaks: []string{"PA-TRACK-02"}, Editions: only210},
	{Name: FaultNormalizeLastTypes, Description: "record _type in lastResources sorted, not as sent",
		Breaks: []string{"PA-TRACK-01"}, Editions: only210},
	{Name: FaultTrackOnPatient, Description: "record downloads on the member's Patient, as 2.0.0 did, instead of on Group.member",
		Breaks: []string{"PA-TRACK-01", "PA-TRACK-02", "PA-TRACK-03"}, Editions: only210},
	{Name: FaultKeepMemberTracking, Description: "keep recording 2.1.0's Group.member tracking extensions, which 2.2.0 removed",
		Breaks: []string{"PA-TRACK-22"}, Editions: only220},
	{Name: FaultListOptedOut, Description: "keep opted-out members listed in the attribution Group",
		Breaks: []string{"PA-OPT-02"}, Editions: from210},
	{Name: FaultATRGroupOnly, Description: "serve attribution Groups as plain ATR groups, without pdex-provider-group's code and characteristic",
		Breaks: []string{"PA-GROUP-21", "PA-GROUP-22", "PA-GROUP-23"}, Editions: from210},
	{Name: FaultGroupSearchNoCode, Description: "Group search by code or characteristic-value-reference returns no match",
		Breaks: []string{"PA-GROUP-22", "PA-GROUP-23"}, Editions: from210},
	{Name: FaultCapabilityNoInstantiates, Description: "leave instantiates pdex-provider-access-server out of the CapabilityStatement",
		Breaks: []string{"PA-CAP-21"}, Editions: from210},
	{Name: FaultCapabilityOldSearch, Description: "declare only 2.0.0's Group search parameters (no code, no characteristic-value-reference)",
		Breaks: []string{"PA-CAP-22"}, Editions: from210},
	{Name: FaultRefuseConsentWrite, Description: "refuse pdex-provider-consent writes with 405",
		Breaks: []string{"PA-CONSENT-01"}, Editions: from210},
	{Name: FaultIgnoreWrittenConsent, Description: "accept pdex-provider-consent writes but never honour them",
		Breaks: []string{"PA-CONSENT-02", "PA-OPT-02: lists it again once it revokes", "PA-MATCH-03"}, Editions: from210},
	{Name: FaultMatchNobody, Description: "$provider-member-match matches no member: everyone is reported not matched",
		Breaks: []string{"PA-MATCH-01"}, Editions: only220},
	{Name: FaultMatchWithoutAttestation, Description: "$provider-member-match matches members without verifying the treatment attestation",
		Breaks: []string{"PA-MATCH-02: whose attestation the payer cannot verify"}, Editions: only220},
	{Name: FaultMatchDropUnmatched, Description: "$provider-member-match leaves members it did not match out of the response",
		Breaks: []string{"PA-MATCH-02"}, Editions: only220},
	{Name: FaultMatchOptedOut, Description: "$provider-member-match returns opted-out members in MatchedMembers",
		Breaks: []string{"PA-MATCH-03"}, Editions: only220},
	{Name: FaultMatchAcceptMalformed, Description: "$provider-member-match accepts malformed requests and answers with an empty match",
		Breaks: []string{"PA-MATCH-04"}, Editions: only220},
	{Name: FaultMatchGroupNotExportable, Description: "refuse the export of a matched Group (403)",
		Breaks: []string{"PA-MATCH-05: data of the matched members only, and of each"}, Editions: only220},
	{Name: FaultMatchGroupHidden, Description: "answer 404 to a read of a matched Group and leave it out of searches",
		Breaks: []string{"PA-MATCH-05: lets the provider read the matched Group", "PA-MATCH-05: lets the provider find the matched Group by search"}, Editions: only220},
	{Name: FaultMatchGroupBadShape, Description: "serve the matched Group without code and managingEntity",
		Breaks: []string{"PA-MATCH-06"}, Editions: only220},
}

type faults map[string]bool

func (f faults) has(name string) bool { return f[name] }

// parseFaults checks fault names against the table and the edition.
func parseFaults(names []string, edition string) (faults, error) {
	f := faults{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		i := slices.IndexFunc(faultTable, func(k Fault) bool { return k.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown fault %q (see serve --list-faults)", n)
		}
		if eds := faultTable[i].Editions; len(eds) > 0 && !slices.Contains(eds, edition) {
			return nil, fmt.Errorf("fault %q exists in edition %s, not %s", n, strings.Join(eds, " and "), edition)
		}
		f[n] = true
	}
	return f, nil
}
