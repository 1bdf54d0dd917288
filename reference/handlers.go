package reference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) handleSmartConfig(w http.ResponseWriter, r *http.Request) {
	sc := map[string]any{
		"issuer":                                s.opts.BaseURL,
		"token_endpoint":                        s.TokenURL(),
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"scopes_supported": []string{"system/*.read", "system/*.rs"},
		"capabilities":     []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"},
	}
	if s.faults.has(FaultSmartConfigIncomplete) {
		delete(sc, "token_endpoint_auth_methods_supported")
	}
	writeJSON(w, http.StatusOK, "application/json", sc)
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	ops := []any{s.operationDeclaration()}
	if s.faults.has(FaultCapabilityNoExport) {
		ops = nil
	}
	if s.edition.MemberMatch && !s.faults.has(FaultCapabilityNoExport) {
		ops = append(ops, map[string]any{"name": "provider-member-match", "definition": operationMemberMatch})
	}
	var searchParams []any
	for _, name := range s.edition.SearchParams {
		if (name == "code" || name == "characteristic-value-reference") && s.faults.has(FaultCapabilityOldSearch) {
			continue // only 2.0.0's identifier and characteristic
		}
		typ := "token"
		if name == "characteristic-value-reference" {
			typ = "reference"
		}
		searchParams = append(searchParams, map[string]any{"name": name, "type": typ, "definition": groupSearchDefinitions[name]})
	}
	group := map[string]any{
		"type":        "Group",
		"interaction": []any{map[string]any{"code": "read"}, map[string]any{"code": "search-type"}},
		"searchParam": searchParams,
	}
	if s.edition.ProviderGroups {
		group["supportedProfile"] = []any{"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/atr-group", profileProviderGroup}
	}
	if ops != nil {
		group["operation"] = ops
	}
	if s.faults.has(FaultCapabilityNoSearch) {
		group["interaction"] = []any{map[string]any{"code": "read"}}
		delete(group, "searchParam")
	}
	resources := []any{group}
	for _, t := range exportableTypes {
		resources = append(resources, map[string]any{"type": t, "interaction": []any{map[string]any{"code": "read"}}})
	}
	if s.edition.ConsentWrite {
		resources = append(resources, map[string]any{"type": "Consent",
			"supportedProfile": []any{pdexSD + "pdex-provider-consent"},
			"interaction":      []any{map[string]any{"code": "create"}, map[string]any{"code": "update"}, map[string]any{"code": "delete"}}})
	}
	cs := map[string]any{
		"resourceType":        "CapabilityStatement",
		"status":              "active",
		"date":                "2026-01-01",
		"kind":                "instance",
		"fhirVersion":         "4.0.1",
		"format":              []string{"application/fhir+json"},
		"implementationGuide": []string{pdexIG + "|" + s.edition.Name},
		"implementation":      map[string]any{"description": "pdex-conform reference Provider Access server", "url": s.opts.BaseURL},
		"software":            map[string]any{"name": "pdex-conform reference server", "version": "edition " + s.edition.Name},
		"rest": []any{map[string]any{
			"mode": "server",
			"security": map[string]any{
				"service": []any{map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR",
				}}}},
				"extension": []any{map[string]any{
					"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
					"extension": []any{map[string]any{"url": "token", "valueUri": s.TokenURL()}},
				}},
			},
			"resource": resources,
		}},
	}
	if in := s.instantiates(); in != nil {
		cs["instantiates"] = in
	}
	writeJSON(w, http.StatusOK, "application/fhir+json", cs)
}

const operationMemberMatch = "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/ProviderMemberMatch"

// groupSearchDefinitions are the SearchParameters behind the Group search
// parameters (base R4, and PDex 2.2.0's characteristic-value-reference).
var groupSearchDefinitions = map[string]string{
	"identifier":                     "http://hl7.org/fhir/SearchParameter/Group-identifier",
	"characteristic":                 "http://hl7.org/fhir/SearchParameter/Group-characteristic",
	"code":                           "http://hl7.org/fhir/SearchParameter/Group-code",
	"characteristic-value-reference": "http://hl7.org/fhir/us/davinci-pdex/SearchParameter/pdex-group-characteristic-value-reference",
}

// handleRead answers GET /{type}/{id}. A read must not be a way around the
// export's rules, so it applies them too (a choice of this server; the spec
// names no rule for reads): Consents are never served; a resource in a
// patient's compartment is served only when that patient is a member of a
// Group the client is entitled to and has not opted out (404 otherwise, so
// as not to reveal that it exists); claim EOBs are served in their
// non-financial form. Shared resources (Organization, Practitioner) are
// served to any authorized client.
func (s *Server) handleRead(w http.ResponseWriter, r *http.Request, c *caller) {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if !isTypeName(typ) {
		writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("no such endpoint: %s", r.URL.Path))
		return
	}
	notFound := func() {
		writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("%s/%s is not known", typ, id))
	}
	if typ == "Consent" {
		notFound()
		return
	}
	raw, export, patient, err := s.store.readWithPatient(r.Context(), typ, id)
	if errors.Is(err, errNotFound) {
		notFound()
		return
	}
	if err != nil {
		s.internalError(w, err)
		return
	}
	if typ == "Group" && s.faults.has(FaultMatchGroupHidden) && strings.HasPrefix(id, matchGroupPrefix) {
		notFound()
		return
	}
	if typ == "Group" {
		ok, err := s.entitled(r.Context(), c, id)
		if err != nil {
			s.internalError(w, err)
			return
		}
		if !ok {
			writeOutcome(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this client is not entitled to Group/%s", id))
			return
		}
		opted, err := s.optedOut(r.Context())
		if err != nil {
			s.internalError(w, err)
			return
		}
		if raw, err = s.presentGroup(r.Context(), raw, opted); err != nil {
			s.internalError(w, err)
			return
		}
	}
	if typ == "Group" && s.faults.has(FaultGroupBadShape) {
		if raw, err = withoutElement(raw, "managingEntity"); err != nil {
			s.internalError(w, err)
			return
		}
	}
	if patient != "" {
		ok, err := s.mayRead(r.Context(), c, patient)
		if err != nil {
			s.internalError(w, err)
			return
		}
		if !ok {
			notFound()
			return
		}
	}
	if typ == "ExplanationOfBenefit" {
		var broke bool
		if raw, _, err = s.transform(typ, raw, export, nil, &broke); err != nil {
			s.internalError(w, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Write(raw)
}

// mayRead reports whether the caller may see a patient's data outside an
// export: the patient must be an active member of a Group the caller is
// entitled to and must not have opted out.
func (s *Server) mayRead(ctx context.Context, c *caller, patient string) (bool, error) {
	opted, err := s.optedOut(ctx)
	if err != nil {
		return false, err
	}
	if opted[patient] && !s.faults.has(FaultLeakOptedOut) {
		return false, nil
	}
	groups, err := s.groupIDs(ctx)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if ok, err := s.entitled(ctx, c, g); err != nil {
			return false, err
		} else if !ok {
			continue
		}
		members, err := s.groupMembers(ctx, g)
		if err != nil {
			return false, err
		}
		if slices.Contains(members, patient) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Server) handleGroupRead(w http.ResponseWriter, r *http.Request, c *caller) {
	if s.faults.has(FaultNoGroupRead) {
		writeOutcome(w, http.StatusNotFound, "not-supported", "Group read is not supported")
		return
	}
	r.SetPathValue("type", "Group")
	s.handleRead(w, r, c)
}

// handleGroupSearch answers GET /Group?identifier=…&characteristic=… with a
// searchset Bundle of the Groups the client is entitled to.
func (s *Server) handleGroupSearch(w http.ResponseWriter, r *http.Request, c *caller) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "invalid", "the query string is malformed: "+err.Error())
		return
	}
	supported := append([]string{"_id", "_count"}, s.edition.SearchParams...)
	for k := range q {
		if !slices.Contains(supported, k) {
			writeOutcome(w, http.StatusBadRequest, "not-supported", fmt.Sprintf("search parameter %q is not supported on Group (use %s)", k, strings.Join(s.edition.SearchParams, ", ")))
			return
		}
	}
	var filters []*typeFilter
	for _, p := range append([]string{"_id"}, s.edition.SearchParams...) {
		if p == "identifier" && s.faults.has(FaultIgnoreGroupIdentifier) || p == "characteristic" && s.faults.has(FaultIgnoreGroupCharacteristic) {
			continue
		}
		for _, v := range q[p] {
			kind := tokenParam
			if p == "characteristic-value-reference" {
				kind = referenceParam
			}
			f := &typeFilter{Type: "Group", criteria: []criterion{{param: p, kind: kind, paths: groupSearchPaths[p], values: strings.Split(v, ",")}}}
			filters = append(filters, f)
		}
	}
	groups, err := s.store.ofType(r.Context(), "Group")
	if err != nil {
		s.internalError(w, err)
		return
	}
	opted, err := s.optedOut(r.Context())
	if err != nil {
		s.internalError(w, err)
		return
	}
	var entries []any
	for _, stored := range groups {
		var g map[string]any
		if err := json.Unmarshal(stored, &g); err != nil {
			s.internalError(w, fmt.Errorf("stored Group is not JSON: %w", err))
			return
		}
		id, _ := g["id"].(string)
		if ok, err := s.entitled(r.Context(), c, id); err != nil {
			s.internalError(w, err)
			return
		} else if !ok {
			continue
		}
		raw, err := s.presentGroup(r.Context(), stored, opted)
		if err != nil {
			s.internalError(w, err)
			return
		}
		g = nil
		if err := json.Unmarshal(raw, &g); err != nil {
			s.internalError(w, err)
			return
		}
		ok := true
		for _, f := range filters {
			if !f.match(g) {
				ok = false
			}
		}
		if s.faults.has(FaultGroupSearchBroken) && len(q["identifier"])+len(q["characteristic"]) > 0 {
			ok = false
		}
		if s.faults.has(FaultGroupSearchNoCode) && len(q["code"])+len(q["characteristic-value-reference"]) > 0 {
			ok = false
		}
		if s.faults.has(FaultMatchGroupHidden) && strings.HasPrefix(id, matchGroupPrefix) {
			ok = false
		}
		if ok {
			entries = append(entries, map[string]any{
				"fullUrl":  s.opts.BaseURL + "/Group/" + id,
				"resource": json.RawMessage(raw),
				"search":   map[string]any{"mode": "match"},
			})
		}
	}
	bundle := map[string]any{
		"resourceType": "Bundle",
		"type":         "searchset",
		"total":        len(entries),
		"link":         []any{map[string]any{"relation": "self", "url": s.opts.BaseURL + r.URL.RequestURI()}},
	}
	if len(entries) > 0 {
		bundle["entry"] = entries
	}
	writeJSON(w, http.StatusOK, "application/fhir+json", bundle)
}

var groupSearchPaths = map[string][]string{
	"identifier":                     {"identifier"},
	"characteristic":                 {"characteristic.code"},
	"code":                           {"code"},
	"characteristic-value-reference": {"characteristic.valueReference"},
	"_id":                            {"id"},
}

// handleKickoff starts a $davinci-data-export job.
func (s *Server) handleKickoff(w http.ResponseWriter, r *http.Request, c *caller) {
	if s.faults.has(FaultPlainTextErrors) {
		w = &plainErrors{ResponseWriter: w}
	}
	if op := r.PathValue("op"); op != s.operationPath() {
		writeOutcome(w, http.StatusNotFound, "not-supported", fmt.Sprintf("operation %q is not supported on Group (use %s)", op, s.operationPath()))
		return
	}
	if r.Method == http.MethodGet && s.faults.has(FaultRefuseGetKickoff) {
		w.Header().Set("Allow", http.MethodPost)
		writeOutcome(w, http.StatusMethodNotAllowed, "not-supported", "the kick-off must be a POST")
		return
	}
	groupID := r.PathValue("id")
	_, rerr := s.store.read(r.Context(), "Group", groupID)
	unknown := errors.Is(rerr, errNotFound)
	switch {
	case unknown && !s.faults.has(FaultAcceptUnknownGroup):
		writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("Group/%s is not known", groupID))
		return
	case rerr != nil && !unknown:
		s.internalError(w, rerr)
		return
	}
	if ok, err := s.entitled(r.Context(), c, groupID); err != nil {
		s.internalError(w, err)
		return
	} else if (!ok && !(unknown && s.faults.has(FaultAcceptUnknownGroup))) || s.faults.has(FaultMatchGroupNotExportable) && strings.HasPrefix(groupID, matchGroupPrefix) {
		writeOutcome(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this client is not entitled to Group/%s", groupID))
		return
	}
	prefer := strings.ToLower(strings.Join(r.Header.Values("Prefer"), ","))
	if !strings.Contains(prefer, "respond-async") && !s.faults.has(FaultAcceptNoPrefer) {
		if s.faults.has(FaultNoPrefer404) {
			writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("no such operation: %s %s", r.Method, r.URL.Path))
			return
		}
		writeOutcome(w, http.StatusBadRequest, "invalid", "the kick-off needs the header Prefer: respond-async")
		return
	}
	lenient := strings.Contains(prefer, "handling=lenient")
	var raw []rawParam
	var err error
	if r.Method == http.MethodPost {
		body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(rerr, &tooLarge):
			writeOutcome(w, http.StatusRequestEntityTooLarge, "too-long", fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
			return
		case rerr != nil:
			writeOutcome(w, http.StatusBadRequest, "invalid", "the body could not be read: "+rerr.Error())
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			raw, err = parseParametersBody(body)
		}
		if err == nil && len(r.URL.RawQuery) > 0 {
			var q []rawParam
			q, err = parseQuery(r.URL.RawQuery)
			raw = append(raw, q...)
		}
	} else {
		raw, err = parseQuery(r.URL.RawQuery)
	}
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	params, err := s.parseKickoff(raw, lenient)
	if err != nil {
		var br *badRequest
		if errors.As(err, &br) {
			if br.unsupportedParam && s.faults.has(FaultUnknownParam404) {
				writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("no such operation: %s %s", r.Method, r.URL.Path))
				return
			}
			writeOutcome(w, http.StatusBadRequest, "invalid", br.msg)
			return
		}
		s.internalError(w, err)
		return
	}
	id, active, err := s.admitJob(r.Context(), c.clientID, groupID, s.opts.BaseURL+r.URL.RequestURI(), params)
	if errors.Is(err, errTooManyJobs) {
		w.Header().Set("Retry-After", "2")
		writeOutcome(w, http.StatusTooManyRequests, "throttled", fmt.Sprintf("this client already has %d exports running; retry later", active))
		return
	}
	if err != nil {
		s.internalError(w, err)
		return
	}
	if !s.faults.has(FaultNoContentLocation) {
		w.Header().Set("Content-Location", s.opts.BaseURL+"/jobs/"+id)
	}
	writeJSON(w, http.StatusAccepted, "application/fhir+json", outcome("information", "informational", "export job "+id+" accepted"))
}

// visibleJob reads a job the caller may see: its own, not cancelled and not
// expired. Anything else is "not found", so that a client cannot even learn
// whether another client's job exists.
func (s *Server) visibleJob(ctx context.Context, id string, c *caller) (*job, error) {
	j, err := s.job(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.client != c.clientID && !s.faults.has(FaultShareJobs) {
		return nil, errNotFound
	}
	if j.state == stateCancelled || s.expired(j) {
		return nil, errNotFound
	}
	return j, nil
}

// expired reports whether a finished job has outlived FileTTL. The sweep
// deletes such jobs in the background; checking here too means a job's
// files stop being served the moment it expires, not at the next sweep.
func (s *Server) expired(j *job) bool {
	return (j.state == stateComplete || j.state == stateFailed) && !s.now().Before(j.finished.Add(s.opts.FileTTL))
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, c *caller) {
	j, err := s.visibleJob(r.Context(), r.PathValue("id"), c)
	// Waiting a little for a running job lets small exports complete in
	// one round trip instead of costing the client a Retry-After second.
	for deadline := time.Now().Add(s.opts.StatusHold); err == nil &&
		(j.state == stateQueued || j.state == stateRunning) && time.Now().Before(deadline); {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		j, err = s.visibleJob(r.Context(), r.PathValue("id"), c)
	}
	if errors.Is(err, errNotFound) {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such export job")
		return
	}
	if err != nil {
		s.internalError(w, err)
		return
	}
	switch j.state {
	case stateQueued, stateRunning:
		if !s.faults.has(FaultNoRetryAfter) {
			w.Header().Set("Retry-After", "1")
		}
		p := j.progress
		if p == "" {
			p = j.state
		}
		w.Header().Set("X-Progress", p)
		w.WriteHeader(http.StatusAccepted)
	case stateFailed:
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(j.outcome)
	case stateComplete:
		m, err := s.manifest(r.Context(), j)
		if err != nil {
			s.internalError(w, err)
			return
		}
		if !s.faults.has(FaultNoExpires) {
			w.Header().Set("Expires", j.finished.Add(s.opts.FileTTL).UTC().Format(http.TimeFormat))
		}
		ct := "application/json"
		if s.faults.has(FaultManifestContentType) {
			ct = "text/plain"
		}
		writeJSON(w, http.StatusOK, ct, m)
	}
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	_, err := s.visibleJob(r.Context(), id, c)
	if errors.Is(err, errNotFound) {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such export job")
		return
	}
	if err != nil {
		s.internalError(w, err)
		return
	}
	if !s.faults.has(FaultIgnoreDelete) {
		if err := s.cancelJob(r.Context(), id); err != nil {
			s.internalError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, "application/fhir+json", outcome("information", "informational", "export job "+id+" cancelled"))
}

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	c, err := s.fileCaller(r)
	if err != nil {
		unauthorized(w, err)
		return
	}
	if c != nil && c.grant != nil && !c.grant.CanRead() {
		writeOutcome(w, http.StatusForbidden, "forbidden", "the token's scope does not permit reading: need system/*.read or system/*.rs")
		return
	}
	f, err := s.file(r.Context(), r.PathValue("id"))
	if err == nil {
		switch {
		case c != nil && f.client != c.clientID && !s.faults.has(FaultShareJobs):
			err = errNotFound
		case !s.now().Before(f.finished.Add(s.opts.FileTTL)):
			err = errNotFound // expired: the URL dies with its job
		}
	}
	if errors.Is(err, errNotFound) {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such file")
		return
	}
	if err != nil {
		s.internalError(w, err)
		return
	}
	ct := "application/fhir+ndjson"
	if s.faults.has(FaultWrongContentType) {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.FormatInt(f.size, 10))
	if err := s.streamFile(r.Context(), w, f.id); err != nil {
		// Headers are gone; the client sees a short body against
		// Content-Length, which is the honest signal left.
		s.log.Error("streaming file", "file", f.id, "err", err)
	}
}

// withoutElement removes a top-level element from a resource (for faults).
func withoutElement(raw []byte, name string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("stored resource is not JSON: %w", err)
	}
	delete(m, name)
	return json.Marshal(m)
}

func (s *Server) internalError(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.Error("internal error", "err", err)
	writeOutcome(w, http.StatusInternalServerError, "exception", "internal error: "+err.Error())
}

// plainErrors turns error responses into plain text, for the
// plain-text-errors fault.
type plainErrors struct {
	http.ResponseWriter
	status int
}

func (p *plainErrors) WriteHeader(status int) {
	p.status = status
	if status >= 400 {
		p.Header().Set("Content-Type", "text/plain")
	}
	p.ResponseWriter.WriteHeader(status)
}

func (p *plainErrors) Write(b []byte) (int, error) {
	if p.status >= 400 {
		return p.ResponseWriter.Write([]byte("export refused\n"))
	}
	return p.ResponseWriter.Write(b)
}
