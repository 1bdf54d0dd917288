package reference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// $provider-member-match (PDex 2.2.0, Provider Access v2;
// davinci-epdx@444e07e9 input/fsh/Operation-provider-member-match.fsh,
// ProviderMultiMemberMatchRequestProfile.fsh,
// ProviderMultiMemberMatchResponseProfile.fsh, ProfileMemberOptOut.fsh and
// provider-access-api-v2.md): the provider sends, per member, the demographics
// it knows, the coverage to match and its attestation of a treatment
// relationship; the payer answers with the Groups of matched, non-matched and
// consent-constrained members, and the matched Group is what the provider
// then exports.
//
// Choices where the text leaves room (README, "Editions"):
//
//   - A MemberBundle matches payer member P when the submitted Patient's
//     family name (case-insensitive), birthDate and, when given, gender are
//     P's, and CoverageToMatch's subscriberId or an identifier value is P's
//     Coverage subscriberId or member identifier; several candidates are no
//     match.
//   - The attestation is verified when it is active, its provision (if any)
//     permits, it has a dateTime, and it names by NPI (performer.identifier
//     or provision.actor.reference.identifier) a provider the calling client
//     represents (the NPI of a Group it is entitled to) to whose attribution
//     list P belongs: that list stands in for the treatment-relationship
//     list (§pdex-250).
//   - Opt-out is read when the match runs (§pdex-245); an opted-out member
//     goes to ConsentConstrainedMembers (the variant
//     suppress-consent-constrained puts them in NonMatchedMembers instead,
//     §pdex-261a).
//   - With Prefer: respond-async the answer is asynchronous (202, a status
//     URL, a manifest listing one Group ndjson file, §pdex-288a); without it
//     (or under the variant member-match-sync) it is a 200 Parameters.
//   - The matched Group is stored, readable, searchable and exportable by
//     the client that asked for it, for MatchGroupTTL (30 days, §pdex-264).
//   - The attestation part is named Consent (the OperationDefinition);
//     TreatmentAttestation (FHIR-56242) is accepted too.

const (
	systemMatchResult = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS"
	systemOptOutScope = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/opt-out-scope"
	matchGroupTTL     = 30 * 24 * time.Hour
	matchGroupPrefix  = "match-"
	maxMemberBundles  = 500
)

func isMatchGroup(g map[string]any) bool {
	if id, _ := g["id"].(string); strings.HasPrefix(id, matchGroupPrefix) {
		return true
	}
	code, _ := g["code"].(map[string]any)
	cs, _ := code["coding"].([]any)
	for _, c := range cs {
		m, _ := c.(map[string]any)
		if m["system"] == systemMatchResult {
			return true
		}
	}
	return false
}

// memberBundle is one member of a match request.
type memberBundle struct {
	patient     map[string]any
	coverage    map[string]any
	attestation map[string]any
}

// parseMatchRequest reads the Parameters body: one or more MemberBundle
// parameters, each with the parts MemberPatient (Patient), CoverageToMatch
// (Coverage) and Consent (Consent) exactly once (§pdex-255..257).
func parseMatchRequest(body []byte) ([]memberBundle, error) {
	var p struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name string `json:"name"`
			Part []struct {
				Name     string         `json:"name"`
				Resource map[string]any `json:"resource"`
			} `json:"part"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("the body is not a JSON Parameters resource: %v", err)
	}
	if p.ResourceType != "Parameters" {
		return nil, fmt.Errorf("the body must be a Parameters resource, not %q", p.ResourceType)
	}
	var out []memberBundle
	for i, prm := range p.Parameter {
		if prm.Name != "MemberBundle" {
			return nil, fmt.Errorf("parameter[%d] %q is not an input of $provider-member-match (MemberBundle)", i, prm.Name)
		}
		var b memberBundle
		seen := map[string]bool{}
		for _, part := range prm.Part {
			name := part.Name
			if name == "TreatmentAttestation" {
				name = "Consent"
			}
			want := map[string]string{"MemberPatient": "Patient", "CoverageToMatch": "Coverage", "Consent": "Consent"}[name]
			if want == "" {
				return nil, fmt.Errorf("MemberBundle %d: part %q is not MemberPatient, CoverageToMatch or Consent", i+1, part.Name)
			}
			if seen[name] {
				return nil, fmt.Errorf("MemberBundle %d: part %s appears more than once (1..1)", i+1, name)
			}
			seen[name] = true
			if rt, _ := part.Resource["resourceType"].(string); rt != want {
				return nil, fmt.Errorf("MemberBundle %d: part %s must hold a %s resource", i+1, part.Name, want)
			}
			switch name {
			case "MemberPatient":
				b.patient = part.Resource
			case "CoverageToMatch":
				b.coverage = part.Resource
			case "Consent":
				b.attestation = part.Resource
			}
		}
		for _, name := range []string{"MemberPatient", "CoverageToMatch", "Consent"} {
			if !seen[name] {
				return nil, fmt.Errorf("MemberBundle %d has no %s part (1..1, §pdex-255)", i+1, name)
			}
		}
		out = append(out, b)
		if len(out) > maxMemberBundles {
			return nil, fmt.Errorf("more than %d MemberBundles in one request", maxMemberBundles)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the request holds no MemberBundle (1..*)")
	}
	return out, nil
}

// payerIndex finds payer members by what a match request carries.
type payerIndex struct {
	byPerson   map[string][]string // family|birthDate -> patient ids
	gender     map[string]string
	byCoverage map[string]string // subscriberId or member identifier -> patient id
	// attributed maps a provider NPI to the patients on its attribution
	// lists; npis are those the caller represents.
	attributed map[string]map[string]bool
	npis       map[string]bool
	payerOrg   string
}

// people indexes the stored Patients and Coverages, which never change
// once loaded: made on the first match request and kept.
type people struct {
	byPerson   map[string][]string
	gender     map[string]string
	byCoverage map[string]string
}

func (s *Server) people(ctx context.Context) (*people, error) {
	s.peopleMu.Lock()
	defer s.peopleMu.Unlock()
	if s.peopleIx != nil {
		return s.peopleIx, nil
	}
	ix := &people{byPerson: map[string][]string{}, gender: map[string]string{}, byCoverage: map[string]string{}}
	patients, err := s.store.ofType(ctx, "Patient")
	if err != nil {
		return nil, err
	}
	for _, raw := range patients {
		var p map[string]any
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		id, _ := p["id"].(string)
		key := personKey(p)
		ix.byPerson[key] = append(ix.byPerson[key], id)
		ix.gender[id], _ = p["gender"].(string)
	}
	coverages, err := s.store.ofType(ctx, "Coverage")
	if err != nil {
		return nil, err
	}
	for _, raw := range coverages {
		var cv map[string]any
		if json.Unmarshal(raw, &cv) != nil {
			continue
		}
		ben, _ := cv["beneficiary"].(map[string]any)
		ref, _ := ben["reference"].(string)
		pid, ok := patientID(ref)
		if !ok {
			continue
		}
		for _, k := range coverageKeys(cv) {
			ix.byCoverage[k] = pid
		}
	}
	s.peopleIx = ix
	return ix, nil
}

func (s *Server) payerIndex(ctx context.Context, c *caller) (*payerIndex, error) {
	ppl, err := s.people(ctx)
	if err != nil {
		return nil, err
	}
	// The attribution lists change (match Groups come and go): read each
	// time.
	ix := &payerIndex{byPerson: ppl.byPerson, gender: ppl.gender, byCoverage: ppl.byCoverage,
		attributed: map[string]map[string]bool{}, npis: map[string]bool{}}
	groups, err := s.groupIDs(ctx)
	if err != nil {
		return nil, err
	}
	for _, gid := range groups {
		raw, err := s.store.read(ctx, "Group", gid)
		if err != nil {
			return nil, err
		}
		var g map[string]any
		if json.Unmarshal(raw, &g) != nil || isMatchGroup(g) {
			continue
		}
		npi := groupNPI(g)
		if me, _ := g["managingEntity"].(map[string]any); ix.payerOrg == "" && me != nil {
			ix.payerOrg, _ = me["reference"].(string)
		}
		if npi == "" {
			continue
		}
		if c.entitledTo(gid) {
			ix.npis[npi] = true
		}
		members, err := s.groupMembers(ctx, gid)
		if err != nil {
			return nil, err
		}
		if ix.attributed[npi] == nil {
			ix.attributed[npi] = map[string]bool{}
		}
		for _, m := range members {
			ix.attributed[npi][m] = true
		}
	}
	return ix, nil
}

func personKey(p map[string]any) string {
	family := ""
	if names, _ := p["name"].([]any); len(names) > 0 {
		n, _ := names[0].(map[string]any)
		family, _ = n["family"].(string)
	}
	birth, _ := p["birthDate"].(string)
	return strings.ToLower(strings.TrimSpace(family)) + "|" + birth
}

func coverageKeys(cv map[string]any) []string {
	var out []string
	if v, _ := cv["subscriberId"].(string); v != "" {
		out = append(out, v)
	}
	ids, _ := cv["identifier"].([]any)
	for _, id := range ids {
		m, _ := id.(map[string]any)
		if v, _ := m["value"].(string); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// match finds the payer member a bundle names, "" for no unique match.
func (ix *payerIndex) match(b memberBundle) string {
	cands := ix.byPerson[personKey(b.patient)]
	gender, _ := b.patient["gender"].(string)
	var found []string
	for _, pid := range cands {
		if gender != "" && ix.gender[pid] != gender {
			continue
		}
		for _, k := range coverageKeys(b.coverage) {
			if ix.byCoverage[k] == pid {
				found = append(found, pid)
				break
			}
		}
	}
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// attests reports whether a bundle's attestation is verified for payer
// member pid: active, permitting, dated, by a provider the caller
// represents whose attribution list holds the member.
func (ix *payerIndex) attests(att map[string]any, pid string, f faults) bool {
	if f.has(FaultMatchWithoutAttestation) {
		return true
	}
	if st, _ := att["status"].(string); st != "active" {
		return false
	}
	if dt, _ := att["dateTime"].(string); dt == "" {
		return false
	}
	if prov, _ := att["provision"].(map[string]any); prov != nil {
		if t, _ := prov["type"].(string); t != "" && t != "permit" {
			return false
		}
	}
	for _, npi := range attestingNPIs(att) {
		if ix.npis[npi] && ix.attributed[npi][pid] {
			return true
		}
	}
	return false
}

// attestingNPIs reads the NPIs an attestation names: performer identifiers
// and provision.actor reference identifiers.
func attestingNPIs(att map[string]any) []string {
	var refs []any
	if ps, _ := att["performer"].([]any); ps != nil {
		refs = append(refs, ps...)
	}
	if prov, _ := att["provision"].(map[string]any); prov != nil {
		actors, _ := prov["actor"].([]any)
		for _, a := range actors {
			m, _ := a.(map[string]any)
			if r, ok := m["reference"]; ok {
				refs = append(refs, r)
			}
		}
	}
	var out []string
	for _, r := range refs {
		m, _ := r.(map[string]any)
		id, _ := m["identifier"].(map[string]any)
		if id["system"] == systemNPI {
			if v, _ := id["value"].(string); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// matchResult is what a match request produced.
type matchResult struct {
	matched, constrained []string // payer patient ids
	unmatched            []map[string]any
	npi                  string
}

func (s *Server) runMatch(ctx context.Context, c *caller, bundles []memberBundle) (*matchResult, *payerIndex, error) {
	ix, err := s.payerIndex(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	opted, err := s.optedOut(ctx)
	if err != nil {
		return nil, nil, err
	}
	res := &matchResult{}
	for _, b := range bundles {
		if res.npi == "" {
			for _, npi := range attestingNPIs(b.attestation) {
				if ix.npis[npi] {
					res.npi = npi
					break
				}
			}
		}
		pid := ix.match(b)
		if pid == "" || !ix.attests(b.attestation, pid, s.faults) || s.faults.has(FaultMatchNobody) {
			if !s.faults.has(FaultMatchDropUnmatched) {
				res.unmatched = append(res.unmatched, b.patient)
			}
			continue
		}
		switch {
		case opted[pid] && !s.faults.has(FaultMatchOptedOut) && s.variants.has(VariantSuppressConstrained):
			res.unmatched = append(res.unmatched, b.patient)
		case opted[pid] && !s.faults.has(FaultMatchOptedOut):
			res.constrained = append(res.constrained, pid)
		default:
			if !slices.Contains(res.matched, pid) {
				res.matched = append(res.matched, pid)
			}
		}
	}
	return res, ix, nil
}

// handleMemberMatch answers POST Group/$provider-member-match.
func (s *Server) handleMemberMatch(w http.ResponseWriter, r *http.Request, c *caller) {
	if !s.edition.MemberMatch {
		writeOutcome(w, http.StatusNotFound, "not-supported",
			fmt.Sprintf("$provider-member-match is not an operation of edition %s (PDex 2.2.0 adds it)", s.edition.Name))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeOutcome(w, http.StatusRequestEntityTooLarge, "too-long", "the body could not be read: "+err.Error())
		return
	}
	bundles, err := parseMatchRequest(body)
	if err != nil && !s.faults.has(FaultMatchAcceptMalformed) {
		writeOutcome(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	res, ix, err := s.runMatch(r.Context(), c, bundles)
	if err != nil {
		s.internalError(w, err)
		return
	}
	groups, err := s.matchGroups(r.Context(), c, res, ix)
	if err != nil {
		s.internalError(w, err)
		return
	}
	prefer := strings.ToLower(strings.Join(r.Header.Values("Prefer"), ","))
	if !strings.Contains(prefer, "respond-async") || s.variants.has(VariantMemberMatchSync) {
		params := map[string]any{"resourceType": "Parameters", "meta": map[string]any{"profile": []any{pdexSD + "provider-parameters-multi-member-match-bundle-out"}}}
		var ps []any
		for _, g := range groups {
			ps = append(ps, map[string]any{"name": g.param, "resource": json.RawMessage(g.raw)})
		}
		params["parameter"] = ps
		writeJSON(w, http.StatusOK, "application/fhir+json", params)
		return
	}
	var lines [][]byte
	for _, g := range groups {
		lines = append(lines, g.raw)
	}
	id, err := s.completedJob(r.Context(), c.clientID, s.opts.BaseURL+r.URL.RequestURI(), "Group", lines)
	if err != nil {
		s.internalError(w, err)
		return
	}
	w.Header().Set("Content-Location", s.opts.BaseURL+"/jobs/"+id)
	writeJSON(w, http.StatusAccepted, "application/fhir+json", outcome("information", "informational", "member match "+id+" accepted"))
}

type responseGroup struct {
	param string
	raw   []byte
}

// matchGroups builds the response Groups and stores the matched one.
func (s *Server) matchGroups(ctx context.Context, c *caller, res *matchResult, ix *payerIndex) ([]responseGroup, error) {
	now := s.now().UTC()
	stamp := now.Format(time.RFC3339Nano)
	base := func(id, code, display, profile string) map[string]any {
		g := map[string]any{
			"resourceType": "Group", "id": id,
			"meta":   map[string]any{"lastUpdated": stamp, "profile": []any{pdexSD + profile}},
			"active": true, "type": "person", "actual": true,
			"code": map[string]any{"coding": []any{map[string]any{"system": systemMatchResult, "code": code, "display": display}}},
		}
		if ix.payerOrg != "" {
			g["managingEntity"] = map[string]any{"reference": ix.payerOrg}
		}
		if res.npi != "" {
			g["identifier"] = []any{map[string]any{"system": systemNPI, "value": res.npi}}
		}
		return g
	}
	hex, err := randomHex(8)
	if err != nil {
		return nil, err
	}
	matchedID := matchGroupPrefix + hex
	matched := base(matchedID, "match", "Matched", "pdex-provider-member-match")
	char := map[string]any{
		"code":    matched["code"],
		"exclude": false,
		"period":  map[string]any{"start": now.Format("2006-01-02")},
	}
	if res.npi != "" {
		char["valueReference"] = map[string]any{"identifier": map[string]any{"system": systemNPI, "value": res.npi}}
	}
	matched["characteristic"] = []any{char}
	var members []any
	for _, pid := range res.matched {
		members = append(members, map[string]any{"entity": map[string]any{"reference": "Patient/" + pid}, "inactive": false})
	}
	if members != nil {
		matched["member"] = members
	}
	matched["quantity"] = len(members)
	if s.faults.has(FaultMatchGroupBadShape) {
		delete(matched, "managingEntity")
		delete(matched, "code")
	}
	raw, err := json.Marshal(matched)
	if err != nil {
		return nil, err
	}
	tx, err := s.store.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO resources(type, id, patient, last_updated, json, export) VALUES('Group', ?, '', ?, ?, NULL)`,
		matchedID, millis(now), raw); err != nil {
		return nil, fmt.Errorf("storing the matched Group: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO match_groups(id, client, expires) VALUES(?, ?, ?)`,
		matchedID, c.clientID, millis(now.Add(matchGroupTTL))); err != nil {
		return nil, fmt.Errorf("storing the matched Group's owner: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	out := []responseGroup{{"MatchedMembers", raw}}
	if len(res.unmatched) > 0 {
		g := base(matchedID+"-nomatch", "nomatch", "Not Matched", "pdex-provider-member-no-match")
		var contained, ms []any
		for i, p := range res.unmatched {
			cp := map[string]any{}
			for k, v := range p {
				cp[k] = v
			}
			id := fmt.Sprintf("submitted-%d", i+1)
			cp["id"] = id
			delete(cp, "meta")
			contained = append(contained, cp)
			ms = append(ms, map[string]any{"entity": map[string]any{"reference": "#" + id}})
		}
		g["contained"], g["member"], g["quantity"] = contained, ms, len(ms)
		if raw, err = json.Marshal(g); err != nil {
			return nil, err
		}
		out = append(out, responseGroup{"NonMatchedMembers", raw})
	}
	if len(res.constrained) > 0 {
		g := base(matchedID+"-consent", "consentconstraint", "Consent Constraint", "pdex-member-opt-out")
		g["characteristic"] = []any{map[string]any{
			"code":                 g["code"],
			"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": systemOptOutScope, "code": "global", "display": "Global Opt-Out"}}},
			"exclude":              false,
		}}
		var ms []any
		for _, pid := range res.constrained {
			ms = append(ms, map[string]any{"entity": map[string]any{"reference": "Patient/" + pid}})
		}
		g["member"], g["quantity"] = ms, len(ms)
		if raw, err = json.Marshal(g); err != nil {
			return nil, err
		}
		out = append(out, responseGroup{"ConsentConstrainedMembers", raw})
	}
	return out, nil
}

// completedJob records a job that is complete at once, with one output file
// of the given lines: the asynchronous answer of an operation whose result
// is ready when it is asked for. The file is written first and the job and
// its file listed in one transaction, so that no worker ever sees the job
// unfinished; a crash in between leaves chunks no job lists, never a job
// without its file.
func (s *Server) completedJob(ctx context.Context, client, request, typ string, lines [][]byte) (string, error) {
	id, err := randomHex(16)
	if err != nil {
		return "", err
	}
	raw, err := json.Marshal(storedParams{})
	if err != nil {
		return "", err
	}
	fw := &fileWriter{s: s, ctx: ctx, job: id}
	if err := fw.start("output", typ); err != nil {
		return "", err
	}
	for _, l := range lines {
		if err := fw.line(l); err != nil {
			return "", err
		}
	}
	if err := fw.finish(); err != nil {
		return "", err
	}
	tx, err := s.store.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	now := millis(s.now())
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO jobs(id, client, state, request, params, created, transaction_time, finished, progress) VALUES(?,?,?,?,?,?,?,?,'complete')`,
		id, client, stateComplete, request, raw, now, now, now); err != nil {
		return "", fmt.Errorf("creating job: %w", err)
	}
	for i, f := range fw.files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO files(id, job, kind, type, count, seq) VALUES(?,?,?,?,?,?)`,
			f.id, id, f.kind, f.typ, f.count, i); err != nil {
			return "", fmt.Errorf("listing file: %w", err)
		}
	}
	return id, tx.Commit()
}
