package reference

import (
	"bytes"
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

// A member's sharing preference is a pdex-provider-consent Consent
// (davinci-epdx@2.1.0 ProfilePDexConsentProviderSharingOptOut.fsh): status
// active, scope patient-privacy, category IDSCL (2.2.0 adds
// pdex-consent-api-purpose#provider-access), provision.type deny to opt
// out, permit to share, action disclose. "Absence of a record is
// interpreted as Permit." 2.1.0: "Health Plans SHALL implement the
// pdex-provider-consent"; 2.2.0 §pdex-275: MAY, meaning accept Consent
// create through the Patient Access API and honour it.
//
// This server takes the writes from any client whose token covers them
// (system/Consent.c, .u, .d): the test clients are registered with
// system/Consent.cud so that a harness can opt a member out and back in. A
// real payer takes them from the member's own application.

const (
	systemActCode    = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemAPIPurpose = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/pdex-consent-api-purpose"
	systemConsentAct = "http://terminology.hl7.org/CodeSystem/consentaction"
	systemScope      = "http://terminology.hl7.org/CodeSystem/consentscope"
	// apiConsentPrefix starts the id of every Consent written through the
	// API, as opposed to loaded with the data set.
	apiConsentPrefix = "api-consent-"
)

// consentRecord is what the opt-out decision reads of a Consent.
type consentRecord struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Status       string `json:"status"`
	Scope        struct {
		Coding []coding `json:"coding"`
	} `json:"scope"`
	Category []struct {
		Coding []coding `json:"coding"`
	} `json:"category"`
	Patient struct {
		Reference string `json:"reference"`
	} `json:"patient"`
	DateTime  string `json:"dateTime"`
	Provision struct {
		Type   string `json:"type"`
		Period struct {
			Start string `json:"start"`
		} `json:"period"`
		Action []struct {
			Coding []coding `json:"coding"`
		} `json:"action"`
	} `json:"provision"`
	Meta struct {
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

func hasCoding(cs []coding, system, code string) bool {
	return slices.ContainsFunc(cs, func(c coding) bool { return c.System == system && c.Code == code })
}

// disclosure reports whether a Consent speaks of disclosure: an action
// disclose, or no action at all (a deny without action denies everything).
func (c *consentRecord) disclosure() bool {
	if len(c.Provision.Action) == 0 {
		return true
	}
	for _, a := range c.Provision.Action {
		if hasCoding(a.Coding, systemConsentAct, "disclose") || slices.ContainsFunc(a.Coding, func(x coding) bool { return x.Code == "disclose" }) {
			return true
		}
	}
	return false
}

// when orders a patient's Consents: the one written last decides. The
// server sets meta.lastUpdated when it stores a Consent; dateTime, the
// member's own statement of when, stands in where it is missing.
func (c *consentRecord) when() time.Time {
	for _, s := range []string{c.Meta.LastUpdated, c.DateTime} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// optedOut reads, at the time it is called (when a job runs, a Group is
// shown, a match is made), which patients have opted out: those whose
// latest active disclosure Consent denies (no record means permit).
func (s *Server) optedOut(ctx context.Context) (map[string]bool, error) {
	consents, err := s.store.ofType(ctx, "Consent")
	if err != nil {
		return nil, err
	}
	latest := map[string]*consentRecord{}
	for _, raw := range consents {
		c := &consentRecord{}
		if err := json.Unmarshal(raw, c); err != nil {
			return nil, fmt.Errorf("stored Consent: %w", err)
		}
		if c.Status != "active" || !c.disclosure() {
			continue
		}
		if strings.HasPrefix(c.ID, apiConsentPrefix) && s.faults.has(FaultIgnoreWrittenConsent) {
			continue
		}
		pid, ok := patientID(c.Patient.Reference)
		if !ok {
			continue
		}
		if prev := latest[pid]; prev == nil || !c.when().Before(prev.when()) {
			latest[pid] = c
		}
	}
	out := map[string]bool{}
	for pid, c := range latest {
		if c.Provision.Type == "deny" {
			out[pid] = true
		}
	}
	return out, nil
}

// checkConsent holds a written Consent to the edition's pdex-provider-consent
// rules that decide what it means; it returns what is wrong, in one
// sentence, or "".
func (s *Server) checkConsent(ctx context.Context, c *consentRecord) (string, error) {
	var p []string
	if c.ResourceType != "Consent" {
		return fmt.Sprintf("the body is a %q, not a Consent", c.ResourceType), nil
	}
	if c.Status != "active" {
		p = append(p, fmt.Sprintf("status is %q; pdex-provider-consent fixes it to active", c.Status))
	}
	if !hasCoding(c.Scope.Coding, systemScope, "patient-privacy") {
		p = append(p, "scope is not consentscope#patient-privacy")
	}
	want := []coding{{systemActCode, "IDSCL"}}
	if s.edition.MemberMatch {
		want = append(want, coding{systemAPIPurpose, "provider-access"}) // 2.2.0 category[apiPurpose] 1..1
	}
	for _, w := range want {
		if !slices.ContainsFunc(c.Category, func(cat struct {
			Coding []coding `json:"coding"`
		}) bool {
			return hasCoding(cat.Coding, w.System, w.Code)
		}) {
			p = append(p, fmt.Sprintf("no category %s#%s", w.System, w.Code))
		}
	}
	if c.Provision.Type != "deny" && c.Provision.Type != "permit" {
		p = append(p, fmt.Sprintf("provision.type is %q, not deny or permit", c.Provision.Type))
	}
	if c.Provision.Period.Start == "" {
		p = append(p, "provision.period.start is missing (1..1)")
	}
	if len(c.Provision.Action) == 0 || !c.disclosure() {
		p = append(p, "provision.action is not consentaction#disclose")
	}
	pid, ok := patientID(c.Patient.Reference)
	if !ok {
		p = append(p, fmt.Sprintf("patient %q is not a Patient reference", c.Patient.Reference))
	} else if _, err := s.store.read(ctx, "Patient", pid); errors.Is(err, errNotFound) {
		p = append(p, fmt.Sprintf("Patient/%s is not a member of this plan", pid))
	} else if err != nil {
		return "", err
	}
	return strings.Join(p, "; "), nil
}

// consentWriter guards the Consent endpoints: a valid bearer token whose
// scope covers the write (no read scope is needed to write a preference),
// in an edition that defines the writes.
func (s *Server) consentWriter(perm string, h func(http.ResponseWriter, *http.Request, *caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &caller{clientID: TestClientID}
		if !s.faults.has(FaultNoAuth) {
			g, err := s.auth.srv.Authenticate(r)
			if err != nil {
				unauthorized(w, err)
				return
			}
			c = &caller{clientID: g.ClientID, grant: g}
		}
		if !s.edition.ConsentWrite || s.faults.has(FaultRefuseConsentWrite) {
			writeOutcome(w, http.StatusMethodNotAllowed, "not-supported",
				fmt.Sprintf("Consent writes are not supported by this server (edition %s)", s.edition.Name))
			return
		}
		if c.grant != nil && !c.grant.Can("Consent", perm) {
			writeOutcome(w, http.StatusForbidden, "forbidden", "the token's scope does not permit writing Consent: need system/Consent."+perm+" (or .write)")
			return
		}
		h(w, r, c)
	}
}

// readConsentBody reads and checks a written Consent, answering the client
// itself when it is not acceptable.
func (s *Server) readConsentBody(w http.ResponseWriter, r *http.Request) (*consentRecord, map[string]any, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "invalid", "the body could not be read: "+err.Error())
		return nil, nil, false
	}
	c := &consentRecord{}
	var m map[string]any
	if err := json.Unmarshal(body, c); err != nil || json.Unmarshal(body, &m) != nil {
		writeOutcome(w, http.StatusBadRequest, "invalid", "the body is not a JSON Consent")
		return nil, nil, false
	}
	why, err := s.checkConsent(r.Context(), c)
	if err != nil {
		s.internalError(w, err)
		return nil, nil, false
	}
	if why != "" {
		writeOutcome(w, http.StatusUnprocessableEntity, "processing", "the Consent does not meet pdex-provider-consent: "+why)
		return nil, nil, false
	}
	return c, m, true
}

// handleConsentCreate answers POST /Consent: 201 with the stored Consent and
// its Location.
func (s *Server) handleConsentCreate(w http.ResponseWriter, r *http.Request, _ *caller) {
	c, m, ok := s.readConsentBody(w, r)
	if !ok {
		return
	}
	id, err := randomHex(8)
	if err != nil {
		s.internalError(w, err)
		return
	}
	s.storeConsent(w, r, apiConsentPrefix+id, c, m, http.StatusCreated)
}

// handleConsentUpdate answers PUT /Consent/{id}: a member updates a
// preference it wrote, e.g. to revoke an opt-out ("A member should also be
// able to update their preference to revoke a previous denial").
func (s *Server) handleConsentUpdate(w http.ResponseWriter, r *http.Request, _ *caller) {
	id := r.PathValue("id")
	if _, err := s.store.read(r.Context(), "Consent", id); errors.Is(err, errNotFound) || !strings.HasPrefix(id, apiConsentPrefix) {
		writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("Consent/%s is not known", id))
		return
	} else if err != nil {
		s.internalError(w, err)
		return
	}
	c, m, ok := s.readConsentBody(w, r)
	if !ok {
		return
	}
	if bid, _ := m["id"].(string); bid != id {
		writeOutcome(w, http.StatusBadRequest, "invalid", fmt.Sprintf("the body's id %q is not the id in the URL (%s)", bid, id))
		return
	}
	s.storeConsent(w, r, id, c, m, http.StatusOK)
}

// handleConsentDelete answers DELETE /Consent/{id}.
func (s *Server) handleConsentDelete(w http.ResponseWriter, r *http.Request, _ *caller) {
	id := r.PathValue("id")
	if !strings.HasPrefix(id, apiConsentPrefix) {
		writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("Consent/%s is not known", id))
		return
	}
	if _, err := s.store.db.ExecContext(r.Context(), `DELETE FROM resources WHERE type = 'Consent' AND id = ?`, id); err != nil {
		s.internalError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) storeConsent(w http.ResponseWriter, r *http.Request, id string, c *consentRecord, m map[string]any, status int) {
	now := s.now().UTC()
	m["id"] = id
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["lastUpdated"] = now.Format(time.RFC3339Nano)
	m["meta"] = meta
	if _, ok := m["dateTime"]; !ok {
		m["dateTime"] = now.Format(time.RFC3339Nano)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		s.internalError(w, err)
		return
	}
	pid, _ := patientID(c.Patient.Reference)
	if _, err := s.store.db.ExecContext(r.Context(), `INSERT OR REPLACE INTO resources(type, id, patient, last_updated, json, export) VALUES('Consent', ?, ?, ?, ?, NULL)`,
		id, pid, millis(now), raw); err != nil {
		s.internalError(w, err)
		return
	}
	w.Header().Set("Location", s.opts.BaseURL+"/Consent/"+id)
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	w.Write(bytes.TrimSpace(raw))
}
