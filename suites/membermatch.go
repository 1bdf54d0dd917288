package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators/differential"
)

// $provider-member-match (2.2.0, Provider Access v2;
// provider-access-api-v2.md, davinci-epdx@444e07e9
// input/fsh/Operation-provider-member-match.fsh): the provider sends, per
// member, MemberPatient (the demographics it knows), CoverageToMatch and
// its treatment attestation (part Consent, a
// provider-treatment-relationship-consent); the payer answers with the
// MatchedMembers Group (1..1), and NonMatchedMembers and
// ConsentConstrainedMembers Groups (0..1), and the provider then exports the
// matched Group (§pdex-262).
//
// What the specs send: the demographics and coverage of members of the
// configured Group as the payer itself exports them (the provider knows
// them), attested by the Group's NPI, the provider the list is attributed
// to (§pdex-250: the payer checks its treatment-relationship list; an
// attribution list stands for one). A person no payer holds stands for a
// member that cannot be matched, and an attestation by an NPI the provider
// does not hold for one that cannot be verified.
//
// Readings (README, "Editions"; EDITIONS.md §9.4): the answer may be
// asynchronous (202, a manifest listing Group files, §pdex-288a) or a 200
// with the response Parameters (the OperationDefinition has out parameters);
// both are accepted. The attestation part is sent as Consent, the name the
// OperationDefinition and its examples use (FHIR-56242 would rename it
// TreatmentAttestation). An opted-out member is accepted in either
// ConsentConstrainedMembers or NonMatchedMembers (§pdex-261a).

const (
	prereqMatch = "the member match"
	// nobodysNPI is a well-formed NPI (Luhn check digit) that the specs use
	// as an attesting provider the payer does not know.
	nobodysNPI = "1999999984"
)

func registerMemberMatch(e *framework.Env) {
	if !e.Applies("PA-MATCH-01") {
		return
	}
	Describe("Member match", func() {
		It("matches the members a provider attests a treatment relationship with", e.Req("PA-MATCH-01"), func(ctx SpecContext) {
			in := matchInputs(ctx, e)
			r := runMatch(ctx, e, in.bundle(0, in.npi), in.bundle(1, in.npi))
			if r.matched == nil {
				Fail(fmt.Sprintf("The response holds no MatchedMembers Group (1..1): %s.", r.describe()))
			}
			if r.matchedID == "" {
				Fail("The MatchedMembers Group has no id: the provider has nothing to export (§pdex-260).")
			}
			if d := framework.Compare(framework.KeySet(in.members...), framework.KeySet(r.matchedMembers...)); !d.Empty() {
				Fail(fmt.Sprintf("MatchedMembers (Group/%s) is not the members asked for, each attested by NPI %s: %s.", r.matchedID, in.npi, d))
			}
		})

		It("does not match a person the payer does not hold, and reports it not matched", e.Req("PA-MATCH-02"), func(ctx SpecContext) {
			in := matchInputs(ctx, e)
			r := runMatch(ctx, e, in.bundle(0, in.npi), strangerBundle(in.npi))
			expectNotMatched(r, in.members[:1], "a person with demographics and coverage no member has")
		})

		It("does not match a member whose attestation the payer cannot verify", e.Req("PA-MATCH-02"), func(ctx SpecContext) {
			in := matchInputs(ctx, e)
			r := runMatch(ctx, e, in.bundle(0, in.npi), in.bundle(1, nobodysNPI))
			expectNotMatched(r, in.members[:1], fmt.Sprintf("Patient/%s, attested by NPI %s, a provider the client does not act for", in.members[1], nobodysNPI))
		})

		It("never matches a member who opted out", e.Req("PA-MATCH-03"), func(ctx SpecContext) {
			in := matchInputs(ctx, e)
			w := newConsentWriter(ctx, e)
			opted := consentMemberInputs(ctx, e, w.member)
			id, err := w.optOut(ctx)
			if err != nil {
				framework.Block(prereqConsent, err.Error())
			}
			DeferCleanup(w.cleanup, id)
			r := runMatch(ctx, e, in.bundle(0, in.npi), opted.bundle(0, in.npi))
			if slices.Contains(r.matchedMembers, w.member) {
				Fail(fmt.Sprintf("Patient/%s opted out (Consent/%s), yet MatchedMembers (Group/%s) lists it: an opted-out member is never matched (§pdex-259).", w.member, id, r.matchedID))
			}
			inCC := r.constrained != nil && slices.Contains(groupPatients(r.constrained), w.member)
			if !inCC && r.nonMatchedCount() == 0 {
				Fail(fmt.Sprintf("Patient/%s opted out, and the response reports it in neither ConsentConstrainedMembers nor NonMatchedMembers: %s.", w.member, r.describe()))
			}
			if r.constrained != nil {
				if p := differential.OptOutGroupProblems(r.constrained); len(p) > 0 {
					Fail(fmt.Sprintf("The ConsentConstrainedMembers Group does not meet pdex-member-opt-out: %s.", sample(p, 3)))
				}
			}
		})

		DescribeTable("refuses a malformed request with 4xx and an OperationOutcome",
			func(ctx SpecContext, body func(in *matchRequest) any) {
				in := matchInputs(ctx, e)
				b, _ := json.Marshal(body(in))
				resp, err := e.Client().Do(ctx, bulk.Request{Method: http.MethodPost, URL: "Group/$provider-member-match", Body: b,
					Header: http.Header{"Content-Type": {"application/fhir+json"}, "Accept": {"application/fhir+json"}, "Prefer": {"respond-async"}}})
				if err != nil {
					Fail(fmt.Sprintf("POST Group/$provider-member-match got no answer: %v", err))
				}
				if resp.StatusCode < 400 || resp.StatusCode > 499 {
					Fail(fmt.Sprintf("POST Group/$provider-member-match with a malformed request was answered HTTP %d, not 4xx: %s", resp.StatusCode, framework.OutcomeText(resp.Body)))
				}
				if !framework.IsOperationOutcome(resp.Body) {
					Fail(fmt.Sprintf("The %d refusing a malformed match request carries no OperationOutcome: %s", resp.StatusCode, framework.OutcomeText(resp.Body)))
				}
			},
			Entry("that is not a Parameters", e.Req("PA-MATCH-04"), func(in *matchRequest) any { return in.patients[0] }),
			Entry("without a MemberBundle", e.Req("PA-MATCH-04"), func(*matchRequest) any {
				return map[string]any{"resourceType": "Parameters", "parameter": []any{}}
			}),
			Entry("with a MemberBundle that has no attestation", e.Req("PA-MATCH-04"), func(in *matchRequest) any {
				return in.withoutPart(0, "Consent")
			}),
			Entry("with a MemberBundle that has no coverage", e.Req("PA-MATCH-04"), func(in *matchRequest) any {
				return in.withoutPart(0, "CoverageToMatch")
			}),
		)

		It("lets the provider read the matched Group", e.Req("PA-MATCH-05"), func(ctx SpecContext) {
			in, r := matchedPair(ctx, e)
			resp, err := e.Client().Do(ctx, framework.Get("Group/"+url.PathEscape(r.matchedID)))
			if err != nil || resp.StatusCode != http.StatusOK {
				Fail(fmt.Sprintf("GET Group/%s (the matched Group) did not answer 200: %s", r.matchedID, answer(resp, err)))
			}
			g, err := framework.ParseGroup(resp.Body)
			if err != nil {
				Fail(fmt.Sprintf("GET Group/%s: %v", r.matchedID, err))
			}
			if d := framework.Compare(framework.KeySet(in.members...), framework.KeySet(g.Members...)); !d.Empty() {
				Fail(fmt.Sprintf("The matched Group read back (Group/%s) does not list the matched members: %s.", r.matchedID, d))
			}
		})

		It("lets the provider find the matched Group by search", e.Req("PA-MATCH-05"), func(ctx SpecContext) {
			_, r := matchedPair(ctx, e)
			if found := groupIDs(searchGroups(ctx, e, "_id", r.matchedID)); !slices.Contains(found, r.matchedID) {
				Fail(fmt.Sprintf("GET Group?_id=%s found %d Groups (%s), not the matched Group.", r.matchedID, len(found), sample(found, 3)))
			}
		})

		It("exports the matched Group: data of the matched members only, and of each", e.Req("PA-MATCH-05"), func(ctx SpecContext) {
			needCompartment(e)
			in, r := matchedPair(ctx, e)
			x, err := e.RunExport(ctx, framework.ExportRequest{Group: r.matchedID, Params: kindParams(e, edition.Snapshot, param("_type", "valueString", "Patient,Coverage,Condition"))})
			if err != nil {
				blockIfFlowBroken(ctx, e)
				Fail(fmt.Sprintf("The export of the matched Group/%s (§pdex-262/292) did not complete: %v.", r.matchedID, err))
			}
			owners := map[string]bool{}
			for _, p := range x.Patients() {
				owners[p] = true
			}
			if d := framework.Compare(framework.KeySet(in.members...), owners); !d.Empty() {
				Fail(fmt.Sprintf("The export of the matched Group/%s does not hold the data of exactly its members: %s.", r.matchedID, d))
			}
		})

		It("answers with Groups that meet their profiles", e.Req("PA-MATCH-06"), func(ctx SpecContext) {
			in := matchInputs(ctx, e)
			r := runMatch(ctx, e, in.bundle(0, in.npi), strangerBundle(in.npi))
			var p []string
			if r.params != nil {
				p = append(p, differential.MatchResponseProblems(r.params)...)
			}
			if r.matched == nil {
				Fail(fmt.Sprintf("The response holds no MatchedMembers Group: %s.", r.describe()))
			}
			if len(r.matchedMembers) == 0 {
				framework.Block(prereqMatch, "the payer matched none of the members asked for: "+r.describe())
			}
			p = append(p, differential.MatchedGroupProblems(r.matched)...)
			for _, g := range r.nonMatched {
				p = append(p, differential.NoMatchGroupProblems(g)...)
			}
			if len(p) > 0 {
				Fail(fmt.Sprintf("The member-match response does not meet its profiles (%d problems): %s.", len(p), sample(p, 4)))
			}
		})
	})
}

// matchRequest holds what the specs send for some members.
type matchRequest struct {
	members   []string
	patients  []map[string]any
	coverages []map[string]any
	npi       string
}

// matchInputs exports the Patient and Coverage of two members of the
// Group, the demographics and coverage a provider would send.
func matchInputs(ctx context.Context, e *framework.Env) *matchRequest {
	members := subset(ctx, e)
	if len(members) < 2 {
		Skip("two members are needed: set members in the configuration")
	}
	g, _ := readGroup(ctx, e)
	in := inputsOf(ctx, e, members[:2])
	in.npi = g.npi()
	if in.npi == "" {
		Skip(fmt.Sprintf("Group/%s has no NPI identifier: the treatment attestation needs the provider's NPI", e.Config.Group))
	}
	return in
}

// consentMemberInputs exports one member's Patient and Coverage.
func consentMemberInputs(ctx context.Context, e *framework.Env, member string) *matchRequest {
	return inputsOf(ctx, e, []string{member})
}

func inputsOf(ctx context.Context, e *framework.Env, members []string) *matchRequest {
	x := export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Snapshot,
		framework.PatientParams(members...), param("_type", "valueString", "Patient,Coverage"))})
	in := &matchRequest{members: members}
	byPatient := map[string]map[string]any{}
	coverage := map[string]map[string]any{}
	x.EachResource("", func(raw []byte) error {
		var r map[string]any
		if json.Unmarshal(raw, &r) != nil {
			return nil
		}
		id, _ := r["id"].(string)
		switch r["resourceType"] {
		case "Patient":
			byPatient[id] = r
		case "Coverage":
			ben, _ := r["beneficiary"].(map[string]any)
			ref, _ := ben["reference"].(string)
			if pid, ok := patientIDOf(ref); ok && coverage[pid] == nil {
				coverage[pid] = r
			}
		}
		return nil
	})
	for _, m := range members {
		if byPatient[m] == nil || coverage[m] == nil {
			Skip(fmt.Sprintf("the export of Patient/%s holds no Patient and Coverage to build a match request from", m))
		}
		in.patients = append(in.patients, byPatient[m])
		in.coverages = append(in.coverages, coverage[m])
	}
	return in
}

// bundle is the MemberBundle of member i, attested by npi.
func (in *matchRequest) bundle(i int, npi string) map[string]any {
	pid := fmt.Sprintf("submitted-%d", i+1)
	p := pick(in.patients[i], "identifier", "name", "gender", "birthDate", "address", "telecom")
	p["resourceType"], p["id"] = "Patient", pid
	c := pick(in.coverages[i], "identifier", "status", "type", "subscriberId", "relationship", "period", "payor", "class", "dependent")
	c["resourceType"], c["id"] = "Coverage", "coverage-"+pid
	c["meta"] = map[string]any{"profile": []any{"http://hl7.org/fhir/us/davinci-hrex/StructureDefinition/hrex-coverage"}}
	c["beneficiary"] = map[string]any{"reference": "Patient/" + pid}
	c["subscriber"] = map[string]any{"reference": "Patient/" + pid}
	return memberBundle(p, c, attestation(pid, npi))
}

// withoutPart is a request for member i with one part left out.
func (in *matchRequest) withoutPart(i int, part string) map[string]any {
	b := in.bundle(i, in.npi)
	var parts []any
	for _, p := range b["part"].([]any) {
		if p.(map[string]any)["name"] != part {
			parts = append(parts, p)
		}
	}
	b["part"] = parts
	return map[string]any{"resourceType": "Parameters", "parameter": []any{b}}
}

// strangerBundle is a person no payer holds, with a coverage no payer
// issued.
func strangerBundle(npi string) map[string]any {
	stamp := time.Now().UnixNano()
	p := map[string]any{"resourceType": "Patient", "id": "stranger",
		"name":   []any{map[string]any{"family": fmt.Sprintf("Nomatch%d", stamp), "given": []any{"Ann"}}},
		"gender": "female", "birthDate": "1901-02-03"}
	c := map[string]any{"resourceType": "Coverage", "id": "coverage-stranger", "status": "active",
		"subscriberId": fmt.Sprintf("NOMATCH-%d", stamp),
		"beneficiary":  map[string]any{"reference": "Patient/stranger"},
		"payor":        []any{map[string]any{"display": "A plan"}}}
	return memberBundle(p, c, attestation("stranger", npi))
}

func memberBundle(p, c, att map[string]any) map[string]any {
	return map[string]any{"name": "MemberBundle", "part": []any{
		map[string]any{"name": "MemberPatient", "resource": p},
		map[string]any{"name": "CoverageToMatch", "resource": c},
		map[string]any{"name": "Consent", "resource": att},
	}}
}

// attestation is the provider's treatment attestation
// (provider-treatment-relationship-consent, ProfileProviderTreatment
// Attestation.fsh): active, patient-privacy, a dateTime, the attesting
// provider by NPI, provision permit.
func attestation(patient, npi string) map[string]any {
	now := time.Now().UTC()
	return map[string]any{
		"resourceType": "Consent", "id": "attestation-" + patient,
		"meta":      map[string]any{"profile": []any{edition.ProfileTreatmentAttestation}},
		"status":    "active",
		"scope":     map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}}},
		"category":  []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}}}},
		"patient":   map[string]any{"reference": "Patient/" + patient},
		"dateTime":  now.Format(time.RFC3339),
		"performer": []any{map[string]any{"identifier": map[string]any{"system": systemNPI, "value": npi}}},
		"provision": map[string]any{"type": "permit", "period": map[string]any{"start": now.AddDate(0, -1, 0).Format("2006-01-02")},
			"purpose": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}}},
	}
}

func pick(r map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := r[k]; ok {
			out[k] = v
		}
	}
	return out
}

// matchResult is a member-match response, its Groups by kind.
type matchResult struct {
	async          bool
	params         map[string]any // the response Parameters, when there is one
	matched        map[string]any
	matchedID      string
	matchedMembers []string
	nonMatched     []map[string]any
	constrained    map[string]any
	other          []string
}

// runMatch posts the bundles and reads the answer, failing the spec when it
// is not a result.
func runMatch(ctx context.Context, e *framework.Env, bundles ...map[string]any) *matchResult {
	var ps []any
	for _, b := range bundles {
		ps = append(ps, b)
	}
	body, _ := json.Marshal(map[string]any{"resourceType": "Parameters",
		"meta":      map[string]any{"profile": []any{edition.ProfileMatchRequest}},
		"parameter": ps})
	res, err := e.CallOperation(ctx, "Group/$provider-member-match", body)
	if err != nil {
		Fail(fmt.Sprintf("The server did not answer $provider-member-match with a result: %v. (Edition %s defines the operation; %s.)",
			err, e.Edition.Name, notInOthers(e)))
	}
	r := &matchResult{async: res.Async}
	for i, raw := range res.Resources {
		var v map[string]any
		if json.Unmarshal(raw, &v) != nil {
			Fail(fmt.Sprintf("Resource %d of the member-match answer is not JSON.", i+1))
		}
		switch v["resourceType"] {
		case "Parameters":
			if r.params == nil {
				r.params = v
			}
			if res.Async && slices.Contains(res.Types, "Group") {
				continue // §pdex-288b: prefer the Group files
			}
			for _, p := range list(v["parameter"]) {
				pm, _ := p.(map[string]any)
				g, _ := pm["resource"].(map[string]any)
				name, _ := pm["name"].(string)
				r.add(map[string]string{"MatchedMembers": "match", "NonMatchedMembers": "nomatch", "ConsentConstrainedMembers": "consentconstraint"}[name], g)
			}
		case "Group":
			r.add(matchCode(v), v)
		default:
			r.other = append(r.other, fmt.Sprint(v["resourceType"]))
		}
	}
	if r.matched != nil {
		r.matchedID, _ = r.matched["id"].(string)
		r.matchedMembers = groupPatients(r.matched)
	}
	return r
}

func (r *matchResult) add(kind string, g map[string]any) {
	switch kind {
	case "match":
		r.matched = g
	case "nomatch":
		r.nonMatched = append(r.nonMatched, g)
	case "consentconstraint":
		r.constrained = g
	default:
		r.other = append(r.other, "Group with code "+kind)
	}
}

// matchCode is a response Group's result code: its PdexMultiMemberMatchResultCS
// coding, or the profile it claims.
func matchCode(g map[string]any) string {
	code, _ := g["code"].(map[string]any)
	for _, c := range list(code["coding"]) {
		m, _ := c.(map[string]any)
		if m["system"] == edition.SystemMatchResult {
			s, _ := m["code"].(string)
			return s
		}
	}
	meta, _ := g["meta"].(map[string]any)
	for _, p := range list(meta["profile"]) {
		s, _ := p.(string)
		switch canonicalBase(s) {
		case edition.ProfileMatchedGroup:
			return "match"
		case edition.ProfileNoMatchGroup:
			return "nomatch"
		case edition.ProfileOptOutGroup:
			return "consentconstraint"
		}
	}
	return ""
}

func (r *matchResult) nonMatchedCount() int {
	n := 0
	for _, g := range r.nonMatched {
		n += len(list(g["member"]))
	}
	return n
}

func (r *matchResult) describe() string {
	var parts []string
	if r.matched != nil {
		parts = append(parts, fmt.Sprintf("MatchedMembers with %d members", len(r.matchedMembers)))
	}
	if n := r.nonMatchedCount(); len(r.nonMatched) > 0 {
		parts = append(parts, fmt.Sprintf("NonMatchedMembers with %d members", n))
	}
	if r.constrained != nil {
		parts = append(parts, fmt.Sprintf("ConsentConstrainedMembers with %d members", len(list(r.constrained["member"]))))
	}
	parts = append(parts, r.other...)
	if parts == nil {
		return "it holds nothing"
	}
	return "it holds " + strings.Join(parts, ", ")
}

// expectNotMatched fails the spec unless MatchedMembers lists exactly the
// members expected and NonMatchedMembers reports someone.
func expectNotMatched(r *matchResult, want []string, who string) {
	if r.matched == nil {
		Fail(fmt.Sprintf("The response holds no MatchedMembers Group (1..1): %s.", r.describe()))
	}
	// Matching the attested members is PA-MATCH-01's to judge: when they
	// are not matched, this scenario cannot tell a refusal from a failure.
	if d := framework.Missing(framework.KeySet(want...), framework.KeySet(r.matchedMembers...)); !d.Empty() {
		framework.Block(prereqMatch, fmt.Sprintf("the payer did not match the attested members beside it: %s", d))
	}
	if d := framework.Unexpected(framework.KeySet(want...), framework.KeySet(r.matchedMembers...)); !d.Empty() {
		Fail(fmt.Sprintf("Asked to match %s beside %s, the payer's MatchedMembers (Group/%s) lists more: %s.", who, sample(want, 2), r.matchedID, d))
	}
	if r.nonMatchedCount() == 0 {
		Fail(fmt.Sprintf("The response does not report %s in NonMatchedMembers: %s; every member that fails a check SHALL be returned (§pdex-261).", who, r.describe()))
	}
}

// matchedPair matches the two members and returns the result, blocking the
// spec when the match did not list them (the match specs say why).
func matchedPair(ctx context.Context, e *framework.Env) (*matchRequest, *matchResult) {
	in := matchInputs(ctx, e)
	r := runMatch(ctx, e, in.bundle(0, in.npi), in.bundle(1, in.npi))
	if r.matched == nil || r.matchedID == "" {
		framework.Block(prereqMatch, "the response holds no MatchedMembers Group with an id: "+r.describe())
	}
	if d := framework.Compare(framework.KeySet(in.members...), framework.KeySet(r.matchedMembers...)); !d.Empty() {
		framework.Block(prereqMatch, fmt.Sprintf("MatchedMembers is not the members asked for: %s", d))
	}
	return in, r
}

// groupPatients lists the patient ids a Group's members reference.
func groupPatients(g map[string]any) []string {
	var out []string
	for _, m := range list(g["member"]) {
		mm, _ := m.(map[string]any)
		ent, _ := mm["entity"].(map[string]any)
		ref, _ := ent["reference"].(string)
		if id, ok := patientIDOf(ref); ok {
			out = append(out, id)
		}
	}
	return out
}

// notInOthers names the editions without the operation.
func notInOthers(e *framework.Env) string {
	var without []string
	for _, n := range edition.Names() {
		if !edition.MustLookup(n).MemberMatch {
			without = append(without, n)
		}
	}
	return "editions " + strings.Join(without, " and ") + " do not have it"
}

func answer(resp *bulk.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, framework.OutcomeText(resp.Body))
}

func list(v any) []any { l, _ := v.([]any); return l }
