package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// A member opts out of provider access with a pdex-provider-consent
// (davinci-epdx@2.1.0 ProfilePDexConsentProviderSharingOptOut.fsh): 2.1.0
// "Health Plans SHALL implement the pdex-provider-consent"; 2.2.0 §pdex-275:
// MAY, meaning "accept Consent.create requests against the Patient Access
// API ... and honor the resulting Consent decision". The export "SHALL check
// the consent status for each member at the time of execution" (E21, 2.2.0
// §pdex-358/294). The specs opt the configured consent member out, export,
// and revoke the opt-out by updating the same Consent to permit ("A member
// should also be able to update their preference to revoke a previous
// denial"); they never leave it opted out. They do not demand an
// OperationOutcome naming an opted-out member: it would disclose the
// opt-out (EDITIONS.md §3, inferred).

const prereqConsent = "writing a pdex-provider-consent"

func registerConsent(e *framework.Env) {
	if !e.Applies("PA-CONSENT-01") {
		return
	}
	Describe("Consent", func() {
		It("accepts a Consent that opts a member out, and the update that revokes it", e.Req("PA-CONSENT-01"), func(ctx SpecContext) {
			w := newConsentWriter(ctx, e)
			id, err := w.optOut(ctx)
			if err != nil {
				framework.Failf("%v", err)
			}
			DeferCleanup(w.cleanup, id)
			if err := w.revoke(ctx, id); err != nil {
				framework.Failf("%v", err)
			}
		})

		It("withholds a member's data once it opts out, and exports it again once it revokes", e.Req("PA-CONSENT-02"), func(ctx SpecContext) {
			needCompartment(e)
			w := newConsentWriter(ctx, e)
			m := w.member
			if x := consentExport(ctx, e, m); x.count(m) == 0 {
				Skip(fmt.Sprintf("Patient/%s's data is not exported before it opts out: nothing to withhold (consent.member must be a member of the Group with data)", m))
			}
			id, err := w.optOut(ctx)
			if err != nil {
				framework.Block(prereqConsent, err.Error())
			}
			DeferCleanup(w.cleanup, id)
			if n := consentExport(ctx, e, m).count(m); n > 0 {
				Fail(fmt.Sprintf("After Patient/%s opted out (Consent/%s, provision deny), an export naming it still held %d of its resources: edition %s checks consent when the export runs.", m, id, n, e.Edition.Name))
			}
			if err := w.revoke(ctx, id); err != nil {
				framework.Block("revoking the opt-out", err.Error())
			}
			if consentExport(ctx, e, m).count(m) == 0 {
				Fail(fmt.Sprintf("After Patient/%s revoked its opt-out (Consent/%s updated to permit), an export naming it held none of its data.", m, id))
			}
		})
	})
	if e.Applies("PA-OPT-02") {
		Describe("Opt-out", func() {
			It("leaves a member who opts out out of the Group, and lists it again once it revokes", e.Req("PA-OPT-02"), func(ctx SpecContext) {
				w := newConsentWriter(ctx, e)
				m := w.member
				if !listedIn(ctx, e, m) {
					Skip(fmt.Sprintf("Group/%s does not list Patient/%s before it opts out (consent.member must be a member of the Group)", e.Config.Group, m))
				}
				id, err := w.optOut(ctx)
				if err != nil {
					framework.Block(prereqConsent, err.Error())
				}
				DeferCleanup(w.cleanup, id)
				if listedIn(ctx, e, m) {
					Fail(fmt.Sprintf("After Patient/%s opted out (Consent/%s), Group/%s still lists it: edition %s leaves opted-out members out of the attribution list.", m, id, e.Config.Group, e.Edition.Name))
				}
				if err := w.revoke(ctx, id); err != nil {
					framework.Block("revoking the opt-out", err.Error())
				}
				if !listedIn(ctx, e, m) {
					Fail(fmt.Sprintf("After Patient/%s revoked its opt-out, Group/%s does not list it again.", m, e.Config.Group))
				}
			})
		})
	}
}

// consentWriter writes a member's Consents with a token for the consent
// scope.
type consentWriter struct {
	e      *framework.Env
	c      *bulk.Client
	member string
	org    string
}

// newConsentWriter skips the spec when the run cannot write Consents.
func newConsentWriter(ctx context.Context, e *framework.Env) *consentWriter {
	if e.Config.Consent.Member == "" {
		Skip("no member may be opted out by the run: set consent.member in the configuration (the scenario opts it out and back in)")
	}
	if ok, why := e.SMART(); !ok {
		Skip(why)
	}
	creds, err := e.Credentials(ctx)
	if err != nil {
		Skip("the run's SMART credentials cannot be built: " + err.Error())
	}
	creds.Scope = e.Config.Consent.Scope
	// The Group's members are read once per run; reading them now, before
	// the member opts out, keeps every other spec's view of the Group.
	members(ctx, e)
	g, _ := readGroup(ctx, e)
	return &consentWriter{e: e, c: e.ClientAs(creds), member: e.Config.Consent.Member, org: g.ManagingEntity.Reference}
}

// consent builds the member's pdex-provider-consent with the edition's
// categories.
func (w *consentWriter) consent(provision string) map[string]any {
	var cats []any
	for _, c := range w.e.Edition.ConsentCategories {
		system, code, _ := strings.Cut(c, "|")
		cats = append(cats, map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}})
	}
	now := time.Now().UTC()
	org := map[string]any{"reference": w.org}
	return map[string]any{
		"resourceType": "Consent",
		"meta":         map[string]any{"profile": []any{edition.ProfileProviderConsent}},
		"status":       "active",
		"scope":        map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}}},
		"category":     cats,
		"patient":      map[string]any{"reference": "Patient/" + w.member},
		"dateTime":     now.Format(time.RFC3339),
		"performer":    []any{map[string]any{"reference": "Patient/" + w.member}},
		"organization": []any{org},
		"policyRule":   map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/consentpolicycodes", "code": "cric"}}},
		"provision": map[string]any{
			"type":   provision,
			"period": map[string]any{"start": now.Format("2006-01-02")},
			"actor": []any{map[string]any{
				"role":      map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "performer"}}},
				"reference": org,
			}},
			"action": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "disclose"}}}},
		},
	}
}

func (w *consentWriter) send(ctx context.Context, method, path string, body map[string]any) (*bulk.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return w.c.Do(ctx, bulk.Request{Method: method, URL: path, Body: b, Header: http.Header{
		"Content-Type": {"application/fhir+json"}, "Accept": {"application/fhir+json"}, "Prefer": {"return=representation"},
	}})
}

// optOut creates a deny Consent and returns its id.
func (w *consentWriter) optOut(ctx context.Context) (string, error) {
	resp, err := w.send(ctx, http.MethodPost, "Consent", w.consent("deny"))
	if err != nil {
		return "", fmt.Errorf("POST Consent got no answer: %v", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the server refused a pdex-provider-consent that opts Patient/%s out (POST Consent, provision deny) with HTTP %d: %s; edition %s defines it",
			w.member, resp.StatusCode, framework.OutcomeText(resp.Body), w.e.Edition.Name)
	}
	id := createdID(resp)
	if id == "" {
		return "", fmt.Errorf("POST Consent answered %d with neither a Location naming the new Consent nor a body with its id", resp.StatusCode)
	}
	return id, nil
}

// revoke updates the Consent to permit.
func (w *consentWriter) revoke(ctx context.Context, id string) error {
	c := w.consent("permit")
	c["id"] = id
	resp, err := w.send(ctx, http.MethodPut, "Consent/"+url.PathEscape(id), c)
	if err != nil {
		return fmt.Errorf("PUT Consent/%s got no answer: %v", id, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("the server refused the update of Consent/%s that revokes Patient/%s's opt-out (provision permit) with HTTP %d: %s",
			id, w.member, resp.StatusCode, framework.OutcomeText(resp.Body))
	}
	return nil
}

// cleanup leaves the member as it found it: the opt-out revoked, or the
// Consent deleted when the update is refused.
func (w *consentWriter) cleanup(ctx SpecContext, id string) {
	if w.revoke(ctx, id) != nil {
		w.c.Do(ctx, bulk.Request{Method: http.MethodDelete, URL: "Consent/" + url.PathEscape(id)})
	}
}

// createdID reads the id of a created resource from Location or the body.
func createdID(resp *bulk.Response) string {
	if loc := resp.Header.Get("Location"); loc != "" {
		loc, _, _ = strings.Cut(loc, "/_history/")
		if i := strings.LastIndex(loc, "Consent/"); i >= 0 {
			return loc[i+len("Consent/"):]
		}
	}
	var b struct {
		ID string `json:"id"`
	}
	json.Unmarshal(resp.Body, &b)
	return b.ID
}

// consentCheck is an export of one member, as the consent specs count it.
type consentCheck struct{ x *framework.Export }

func consentExport(ctx context.Context, e *framework.Env, member string) consentCheck {
	return consentCheck{export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Snapshot,
		framework.PatientParams(member), param("_type", "valueString", "Patient,Coverage,Condition"))})}
}

// count is how many resources of the member the export holds.
func (c consentCheck) count(member string) int {
	return len(c.x.Select(ofPatients(member)))
}

// listedIn reads the Group and reports whether it lists the member.
func listedIn(ctx context.Context, e *framework.Env, member string) bool {
	g, _ := readGroup(ctx, e)
	_, ok := g.byMember()[member]
	return ok
}
