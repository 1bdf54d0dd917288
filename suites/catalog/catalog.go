// Package catalog is the requirement catalog: every requirement of the
// Provider Access API that the suites test, with its level, its source and
// the editions it applies to. Specs name requirements by ID in their labels;
// reports show, per requirement, the specs that cover it and how they ended.
package catalog

import (
	"slices"
	"strings"
)

// Level is the strength of a requirement.
type Level string

const (
	SHALL  Level = "SHALL"
	SHOULD Level = "SHOULD"
	MAY    Level = "MAY"
)

// Requirement is one testable statement.
type Requirement struct {
	ID    string
	Level Level
	// Area groups requirements like the suites' files do.
	Area string
	// Source names the specification, page and statement number.
	Source string
	// Text is the requirement in our own words.
	Text string
	// Editions it applies to; empty means every edition.
	Editions []string
	// In holds what differs in an edition: its level, source or text
	// (empty fields keep the requirement's own).
	In map[string]Variant
}

// Variant is how a requirement reads in one edition.
type Variant struct {
	Level  Level
	Source string
	Text   string
}

// AppliesTo reports whether the requirement holds in an edition.
func (r Requirement) AppliesTo(edition string) bool {
	return len(r.Editions) == 0 || slices.Contains(r.Editions, edition)
}

// For returns the requirement as it reads in an edition, and false when the
// edition does not have it (it is then not applicable there).
func (r Requirement) For(edition string) (Requirement, bool) {
	if !r.AppliesTo(edition) {
		return r, false
	}
	if v, ok := r.In[edition]; ok {
		if v.Level != "" {
			r.Level = v.Level
		}
		if v.Source != "" {
			r.Source = v.Source
		}
		if v.Text != "" {
			r.Text = v.Text
		}
	}
	r.In = nil
	return r, true
}

// Areas in report order.
var Areas = []string{
	"Discovery", "Authorization", "Group", "Full export", "Member subset", "Type-limited export",
	"Since and until", "exportType", "exportMode", "Download tracking", "Opt-out", "Consent", "Member match",
	"Remittance and cost-sharing", "Profiles", "Bulk mechanics", "API description",
}

const (
	pdexPA = "PDex 2.0.0, Provider Access API (provider-access-api.html)"
	bulk   = "FHIR Bulk Data Access 2.0.0 (export.html)"
	smart  = "SMART App Launch 2.x, Backend Services (backend-services.html)"
	atr    = "Da Vinci ATR, davinci-data-export OperationDefinition"
	cms    = "CMS-0057-F, Provider Access API"
	carin  = "CARIN Blue Button 2.0.0 NonFinancial EOB profiles; PDex §pdex-75"
)

var all = []Requirement{
	// Discovery
	// 2.0.0 has no Provider Access CapabilityStatement (new in 2.1.0) nor
	// §pdex-350: Bulk Data's "SHOULD support reading and searching for
	// Group" is what asks for Group search there.
	{ID: "PA-CAP-01", Level: SHALL, Area: "Discovery", Source: pdexPA + " §pdex-350; PDex CapabilityStatement pdex-provider-access-server",
		Text: "GET /metadata returns a CapabilityStatement that declares Group read and search-type with the identifier and characteristic search parameters.",
		In:   map[string]Variant{"2.0.0": {Level: SHOULD, Source: bulk + ", Group export (a server SHOULD support reading and searching for Group); FHIR R4 CapabilityStatement"}}},
	{ID: "PA-CAP-02", Level: SHALL, Area: "Discovery", Source: pdexPA + "; " + atr,
		Text: "The CapabilityStatement declares the davinci-data-export operation on Group."},
	{ID: "PA-SMART-01", Level: SHALL, Area: "Discovery", Source: smart + ", Discovery",
		Text: "GET .well-known/smart-configuration returns token_endpoint, token_endpoint_auth_methods_supported with private_key_jwt, RS384 or ES384 signing algorithms, scopes_supported and the client-confidential-asymmetric capability."},
	// Authorization
	{ID: "PA-AUTH-01", Level: SHALL, Area: "Authorization", Source: smart + ", Issue access token",
		Text: "A token request with a correct RS384 or ES384 client assertion gets an access token with token_type bearer and expires_in."},
	{ID: "PA-AUTH-02", Level: SHALL, Area: "Authorization", Source: smart + ", Signature verification",
		Text: "A client assertion with a bad signature, or signed with a key that is not registered, is refused with invalid_client."},
	{ID: "PA-AUTH-03", Level: SHALL, Area: "Authorization", Source: smart + ", Authenticating to the token endpoint",
		Text: "A client assertion whose aud is not the token URL is refused."},
	{ID: "PA-AUTH-04", Level: SHALL, Area: "Authorization", Source: smart + ", exp claim",
		Text: "A client assertion with a missing or past exp, or an exp more than five minutes ahead, is refused."},
	{ID: "PA-AUTH-05", Level: SHALL, Area: "Authorization", Source: smart + ", jti claim",
		Text: "A client assertion whose jti was already used is refused."},
	{ID: "PA-AUTH-06", Level: SHALL, Area: "Authorization", Source: smart,
		Text: "A client assertion from an unknown client or with an unknown kid is refused."},
	{ID: "PA-AUTH-07", Level: SHALL, Area: "Authorization", Source: smart + ", Request",
		Text: "A token request with a wrong grant_type or client_assertion_type is refused."},
	{ID: "PA-AUTH-08", Level: SHALL, Area: "Authorization", Source: pdexPA + "; PDex CapabilityStatement (401)",
		Text: "FHIR requests without a token, or with an invalid one, get 401."},
	{ID: "PA-AUTH-09", Level: SHALL, Area: "Authorization", Source: pdexPA + " §pdex-377; " + bulk + ", requiresAccessToken",
		Text: "When the manifest says requiresAccessToken, files are refused without the token."},
	{ID: "PA-AUTH-10", Level: SHALL, Area: "Authorization", Source: atr + "; " + cms,
		Text: "A client may only read and export the Groups it is entitled to, and poll and download its own exports: another client gets 403 (or 404) where the run's client is served."},
	{ID: "PA-AUTH-11", Level: SHALL, Area: "Authorization", Source: smart + ", Security",
		Text: "A client assertion with alg none, or signed HS256 with the public key, is refused."},
	// Group
	{ID: "PA-GROUP-01", Level: SHALL, Area: "Group", Source: pdexPA + " (Get Group record)",
		Text: "GET Group/{id} returns the attribution Group."},
	{ID: "PA-GROUP-02", Level: SHALL, Area: "Group", Source: pdexPA + " §pdex-350",
		Text: "Group search by identifier finds the Group, every Group it returns carries that identifier, and an identifier no Group has finds none; the same by characteristic.",
		In:   map[string]Variant{"2.0.0": {Level: SHOULD, Source: bulk + ", Group export (a server SHOULD support reading and searching for Group, e.g. by Group.identifier)"}}},
	{ID: "PA-GROUP-03", Level: SHALL, Area: "Group", Source: "Da Vinci ATR atr-group profile",
		Text: "The Group meets the ATR group shape: type person, actual true, managingEntity, an attribution list status, npi/tin identifiers and members that reference Patients."},
	// Full export
	// POST: PDex 2.0.0 asks for subset requests, and Bulk Data's patient
	// parameter is for POST requests only; FHIR operations are invoked
	// with POST.
	{ID: "PA-EXP-01", Level: SHALL, Area: "Full export", Source: pdexPA + " §pdex-338/339; " + bulk + ", Kick-off",
		Text: "A POST kick-off with a Parameters body and Prefer: respond-async is answered 202 with an absolute Content-Location."},
	{ID: "PA-EXP-02", Level: SHALL, Area: "Full export", Source: bulk + ", Status request",
		Text: "The status URL answers 202 while in progress and 200 with the manifest when complete."},
	{ID: "PA-EXP-03", Level: SHALL, Area: "Full export", Source: bulk + ", Response - Complete Status",
		Text: "The manifest has transactionTime, request, requiresAccessToken (true, per ATR), output and error; file URLs are absolute; one resource type per file."},
	{ID: "PA-EXP-04", Level: SHALL, Area: "Full export", Source: bulk + ", File request",
		Text: "Files are served 200 as application/fhir+ndjson, and each holds the number of lines its count says."},
	{ID: "PA-EXP-05", Level: SHALL, Area: "Full export", Source: "FHIR R4; " + bulk,
		Text: "Every exported line is a valid FHIR R4 resource of its file's type."},
	{ID: "PA-EXP-06", Level: SHALL, Area: "Full export", Source: pdexPA + "; " + bulk + ", Group export",
		Text: "Every exported resource in a patient's compartment (by the R4 Patient CompartmentDefinition) belongs to a member of the Group, and every member who has not opted out is exported (their Patient at least)."},
	{ID: "PA-EXP-07", Level: SHOULD, Area: "Full export", Source: bulk + ", Response - Complete Status",
		Text: "The completed status response carries an Expires header."},
	// Member subset
	{ID: "PA-SUB-01", Level: SHALL, Area: "Member subset", Source: pdexPA + " (subset of members); " + atr + " patient",
		Text: "With patient parameters, the output holds exactly the full Group export's data of the named members: nothing of other patients, nothing of theirs left out."},
	{ID: "PA-SUB-02", Level: SHALL, Area: "Member subset", Source: pdexPA + " §pdex-359/360; " + atr,
		Text: "A patient that is not a member of the Group is ignored: none of its data is exported, and the named member's data still is (a server may instead refuse the request with an OperationOutcome, as Bulk Data allows)."},
	{ID: "PA-SUB-03", Level: SHOULD, Area: "Member subset", Source: atr,
		Text: "Each ignored non-member is reported as an OperationOutcome in the manifest's error files."},
	// Types
	{ID: "PA-TYPE-01", Level: SHALL, Area: "Type-limited export", Source: bulk + ", _type; " + pdexPA,
		Text: "With _type, the output holds only the requested resource types, and every resource of those types that the full export holds of the members."},
	// Bulk Data makes _typeFilter optional: a server that supports it SHALL
	// filter, one that does not SHOULD refuse it. Accepting and ignoring it
	// breaks only the SHOULD, and the harness cannot tell ignoring from
	// filtering wrongly, hence SHOULD.
	{ID: "PA-TYPE-02", Level: SHOULD, Area: "Type-limited export", Source: bulk + ", _typeFilter (optional; SHALL filter when supported, SHOULD refuse otherwise); " + pdexPA + " (just the lab results)",
		Text: "With _typeFilter, the output holds only the resources of the filtered type that match it, all of them, and the other _type types unfiltered; a server that does not support _typeFilter refuses it with an OperationOutcome."},
	// Since
	{ID: "PA-SINCE-01", Level: SHALL, Area: "Since and until", Source: bulk + ", _since; " + pdexPA + " (new data since I last requested)",
		Text: "With _since, the output holds every resource changed after it, and older resources only where Bulk Data allows them: of members added to the Group after _since, referenced by a returned resource, or without lastUpdated."},
	{ID: "PA-SINCE-02", Level: SHALL, Area: "Since and until", Source: atr + " _until",
		Text: "With _until, the output holds every resource updated before it and none updated after it (a server that does not support _until refuses it with an OperationOutcome)."},
	// exportType
	// "exportType SHALL contain hl7.fhir.us.davinci-pdex" binds the client;
	// the server's answer to a value it does not serve is Bulk Data's for
	// what it cannot support: SHOULD refuse.
	{ID: "PA-ETYPE-01", Level: SHOULD, Area: "exportType", Source: pdexPA + " (exportType SHALL contain hl7.fhir.us.davinci-pdex: the client); " + bulk + ", Query Parameters (unsupported: SHOULD return an error)", Editions: []string{"2.0.0"},
		Text: "A kick-off with an exportType the server does not serve is refused with a 4xx (not 404) and an OperationOutcome."},
	{ID: "PA-ETYPE-02", Level: SHALL, Area: "exportType", Source: pdexPA, Editions: []string{"2.0.0"},
		Text: "A kick-off with exportType hl7.fhir.us.davinci-pdex is accepted."},
	// exportMode
	// "The exportMode field SHALL have one of two values" binds the client;
	// another value is one the server does not support: SHOULD refuse.
	{ID: "PA-MODE-01", Level: SHOULD, Area: "exportMode", Source: pdexPA + " (Export Mode: the client); " + bulk + ", Query Parameters (unsupported: SHOULD return an error)", Editions: []string{"2.0.0"},
		Text: "A kick-off whose exportMode is neither snapshot nor download is refused with a 4xx (not 404) and an OperationOutcome."},
	// Inferred (SPEC §4): the seed ties the record to download alone.
	{ID: "PA-MODE-02", Level: SHOULD, Area: "exportMode", Source: pdexPA + " (Export Mode; inferred)", Editions: []string{"2.0.0"},
		Text: "A snapshot export leaves the last-download extension of the members' Patients unchanged."},
	{ID: "PA-MODE-03", Level: SHALL, Area: "exportMode", Source: pdexPA + " (Export Mode: download)", Editions: []string{"2.0.0"},
		Text: "Each download export sets the last-download extension on the downloaded member's Patient to its own time, replacing the earlier value: after two downloads the Patient carries one value, later than the first and within the second download; other members are untouched."},
	// Opt-out
	{ID: "PA-OPT-01", Level: SHALL, Area: "Opt-out", Source: cms + " (opt-out); " + pdexPA,
		Text: "No resource of an opted-out member is exported, even when the member is named in patient; naming an opted-out member with another member still exports the other member's data."},
	// Financial
	{ID: "PA-FIN-01", Level: SHALL, Area: "Remittance and cost-sharing", Source: cms + "; " + carin,
		Text: "Claim and encounter EOBs carry no remittance or cost-sharing: no total, payment amount, adjudication amounts, net or unit prices, or benefit balance financials. Prior-authorization EOBs (use = preauthorization) are not claims and may carry amounts. A full export with no claim EOB is not judged."},
	{ID: "PA-FIN-02", Level: SHALL, Area: "Remittance and cost-sharing", Source: carin,
		Text: "Claim EOBs claim and conform to their CARIN NonFinancial profile."},
	// Profiles
	{ID: "PA-PROF-01", Level: SHALL, Area: "Profiles", Source: "PDex 2.0.0; US Core 3.1.1; CARIN BB 2.0.0",
		Text: "Every exported resource validates against the edition's profile for its type with zero errors."},
	// Mechanics
	{ID: "PA-BULK-01", Level: SHALL, Area: "Bulk mechanics", Source: bulk + ", _outputFormat",
		Text: "The _outputFormat spellings application/fhir+ndjson, application/ndjson and ndjson are accepted."},
	// Bulk Data, Headers: Prefer "A client SHOULD provide this header. If
	// omitted, the server MAY return an error or MAY process the request";
	// PDex's §pdex-339 binds the client.
	{ID: "PA-BULK-02", Level: MAY, Area: "Bulk mechanics", Source: bulk + ", Headers (Prefer: if omitted the server MAY return an error); " + pdexPA + " §pdex-339 (the client)",
		Text: "A kick-off without Prefer: respond-async may be refused, with a 4xx (not 404) and an OperationOutcome, while the same kick-off with it is accepted."},
	{ID: "PA-BULK-03", Level: SHOULD, Area: "Bulk mechanics", Source: bulk + ", Kick-off (unsupported parameters)",
		Text: "A parameter the server does not support is refused with a 4xx (not 404) and an OperationOutcome; with Prefer: handling=lenient it may be ignored."},
	{ID: "PA-BULK-04", Level: SHALL, Area: "Bulk mechanics", Source: bulk + ", Delete request",
		Text: "DELETE on the status URL answers 202, after which the status URL answers 404 with an OperationOutcome (a server that answers the DELETE with an error status and an OperationOutcome does not cancel, and the 404 goes untested)."},
	{ID: "PA-BULK-05", Level: SHOULD, Area: "Bulk mechanics", Source: bulk + ", Status request",
		Text: "In-progress status responses carry Retry-After (or the client honours 429 with Retry-After)."},
	{ID: "PA-BULK-06", Level: SHALL, Area: "Bulk mechanics", Source: bulk + ", Kick-off (errors)",
		Text: "A kick-off on a Group the server does not know is refused with a 4xx and an OperationOutcome body."},
	// Bulk Data, Kick-off Request: "A server SHALL support GET requests and
	// MAY support POST requests"; ATR's operation has Bulk Data's
	// group-export as its base. PDex's POST (§pdex-338) binds the client.
	{ID: "PA-BULK-07", Level: SHALL, Area: "Bulk mechanics", Source: bulk + ", Kick-off Request (a server SHALL support GET requests); " + atr + " (base: group-export)",
		Text: "A kick-off sent with GET and the parameters in the query is accepted (patient, a POST-only parameter in Bulk Data, is not sent)."},
	// API description
	{ID: "PA-API-01", Level: SHALL, Area: "API description", Source: "pdex-conform OpenAPI description of the Provider Access API",
		Text: "Every exchange conforms to the OpenAPI description of the Provider Access API."},
}

// requirements are the shared ones, as they read in every edition, and
// those of later editions (editions.go).
var requirements = withEditions(all, editionRequirements, editionVariants)

// All returns every requirement, in catalog order.
func All() []Requirement { return slices.Clone(requirements) }

// ForEdition returns the requirements that apply to an edition, as they
// read in it.
func ForEdition(edition string) []Requirement {
	var out []Requirement
	for _, r := range requirements {
		if rr, ok := r.For(edition); ok {
			out = append(out, rr)
		}
	}
	return out
}

// Lookup finds a requirement by ID, as the catalog states it for every
// edition (see Requirement.For).
func Lookup(id string) (Requirement, bool) {
	i := slices.IndexFunc(requirements, func(r Requirement) bool { return r.ID == id })
	if i < 0 {
		return Requirement{}, false
	}
	return requirements[i], true
}

// IsID reports whether a label is a requirement ID.
func IsID(label string) bool { return strings.HasPrefix(label, "PA-") }
