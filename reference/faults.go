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
	FaultSlowExport          = "slow-export"
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
	FaultNoThrottle            = "no-throttle"
	FaultRefuseGetKickoff      = "refuse-get-kickoff"
)

// Fault describes one switch for `serve --list-faults`.
type Fault struct {
	Name        string
	Description string
}

// Faults lists every fault switch.
func Faults() []Fault {
	return []Fault{
		{FaultAnyExportType, "accept any exportType, or none"},
		{FaultAnyExportMode, "accept any exportMode, or none"},
		{FaultLeakOptedOut, "export opted-out members' data"},
		{FaultKeepFinancial, "export claim EOBs with their financial detail"},
		{FaultIgnoreSince, "ignore _since"},
		{FaultIgnoreUntil, "ignore _until"},
		{FaultIgnoreType, "ignore _type"},
		{FaultIgnoreTypeFilter, "ignore _typeFilter"},
		{FaultIgnorePatient, "ignore patient: export every member"},
		{FaultIncludeNonMember, "export a patient who is not a member of the Group"},
		{FaultSkipLastDownload, "do not record the last download on download exports"},
		{FaultTrackOnSnapshot, "record the last download on snapshot exports too"},
		{FaultAppendLastDownload, "add a new last-download extension instead of replacing the old one"},
		{FaultWrongContentType, "serve files as application/json"},
		{FaultManifestMissing, "leave transactionTime out of the manifest"},
		{FaultWrongCount, "report a wrong count for output files"},
		{FaultNoAuth, "require no access token on FHIR endpoints"},
		{FaultFilesWithoutToken, "serve files without a token while the manifest says requiresAccessToken"},
		{FaultIgnoreDelete, "accept DELETE on a job but keep it"},
		{FaultBreakProfile, "export one Condition that breaks its US Core profile"},
		{FaultAcceptNoPrefer, "accept a kick-off without Prefer: respond-async"},
		{FaultAcceptUnknownParam, "accept an unsupported parameter in strict mode"},
		{FaultNoContentLocation, "answer a kick-off without Content-Location"},
		{FaultMixedTypesInFile, "write Coverage lines into the Patient file"},
		{FaultCapabilityNoExport, "leave davinci-data-export out of the CapabilityStatement"},
		{FaultGroupSearchBroken, "Group search by identifier or characteristic returns no match"},
		{FaultRelativeURLs, "give relative file URLs in the manifest"},
		{FaultNoErrorForNonMember, "report no OperationOutcome for a patient that is not a member"},
		{FaultAcceptBadSignature, "token endpoint: accept a client assertion with a bad signature"},
		{FaultIgnoreAudience, "token endpoint: accept a client assertion for another audience"},
		{FaultIgnoreExpiry, "token endpoint: accept a client assertion with a missing, past or too distant exp"},
		{FaultAllowReplay, "token endpoint: accept a replayed jti"},
		{FaultAcceptUnknownKid, "token endpoint: accept a client assertion whose kid is not registered"},
		{FaultNoExpires, "leave Expires off the completed status response"},
		{FaultManifestContentType, "serve the manifest as text/plain"},
		{FaultInvalidR4, "export one Observation that is not valid R4 (a status outside its required value set)"},
		{FaultRefuseNDJSONAlias, "accept only application/fhir+ndjson as _outputFormat"},
		{FaultSlowExport, "make every export take at least 1.5 s, so that status requests see it in progress"},
		{FaultNoRetryAfter, "leave Retry-After off in-progress status responses"},
		{FaultPlainTextErrors, "answer kick-off errors with plain text instead of an OperationOutcome"},
		{FaultRefusePDexType, "refuse exportType hl7.fhir.us.davinci-pdex, wanting a 2.1.0-style value instead"},
		{FaultCapabilityNoSearch, "leave Group search-type and its search parameters out of the CapabilityStatement"},
		{FaultSmartConfigIncomplete, "leave token_endpoint_auth_methods_supported out of the SMART configuration"},
		{FaultTokenWithoutExpiresIn, "token endpoint: leave expires_in out of the token response"},
		{FaultAcceptUnknownClient, "token endpoint: take an unknown client id for the first registered client"},
		{FaultAcceptWrongGrantType, "token endpoint: accept any grant_type, not only client_credentials"},
		{FaultAcceptWrongAssertType, "token endpoint: accept any client_assertion_type, not only jwt-bearer"},
		{FaultTrustHeaderAlg, "token endpoint: trust the assertion's alg header: accept alg none, and HS256 keyed with the client's public key"},
		{FaultIgnoreEntitlement, "let every client read and export every Group"},
		{FaultNoGroupRead, "answer Group read with 404"},
		{FaultGroupBadShape, "serve the Group without managingEntity"},
		{FaultFinancialProfile, "strip claim EOBs but leave meta.profile naming the financial CARIN profile"},
		{FaultShareJobs, "let any client poll, cancel and download any client's jobs and files"},
		{FaultRefuseGetKickoff, "answer a GET kick-off with 405 (POST only)"},
		{FaultNoThrottle, "never answer 429: accept any number of concurrent exports per client"},
	}
}

type faults map[string]bool

func (f faults) has(name string) bool { return f[name] }

// parseFaults checks fault names against the catalog.
func parseFaults(names []string) (faults, error) {
	known := Faults()
	f := faults{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.ContainsFunc(known, func(k Fault) bool { return k.Name == n }) {
			return nil, fmt.Errorf("unknown fault %q (see serve --list-faults)", n)
		}
		f[n] = true
	}
	return f, nil
}
