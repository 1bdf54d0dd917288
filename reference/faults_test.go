package reference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// A probe checks one behaviour of a running server and returns an error
// describing how it is broken, or nil when it behaves as the spec says.
type probe func(h *harness, f fixtureFacts) error

// probes, by name: one per fault, each checking the behaviour its fault
// names.
var probes = map[string]probe{
	"exportType enforced": func(h *harness, f fixtureFacts) error {
		for _, v := range []string{"hl7.fhir.us.davinci-atr", ""} {
			params := []bulk.Param{p("exportMode", "valueCode", "snapshot")}
			if v != "" {
				params = append(params, p("exportType", "valueCanonical", v))
			}
			if err := wantRefused(h, exportRequest{params: params}, http.StatusBadRequest); err != nil {
				return fmt.Errorf("exportType %q: %w", v, err)
			}
		}
		return nil
	},
	"exportMode enforced": func(h *harness, f fixtureFacts) error {
		return wantRefused(h, exportRequest{params: standard("everything")}, http.StatusBadRequest)
	},
	"opted-out withheld": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.optedOut), patientParam(f.member))})
		if err != nil {
			return err
		}
		opted := optedOut(h.t, h.data)
		for pid := range ex.compartments(h.data) {
			if opted[pid] {
				return fmt.Errorf("the opted-out patient %s's data was exported", pid)
			}
		}
		if len(ex.keys()) == 0 {
			return errors.New("nothing exported")
		}
		return nil
	},
	"financial stripped": func(h *harness, f fixtureFacts) error {
		return eachClaim(h, f, func(eob map[string]any) error {
			if fin := financialPaths(eob); len(fin) > 0 {
				return fmt.Errorf("claim %s carries %v", eob["id"], fin)
			}
			return nil
		})
	},
	"NonFinancial profile": func(h *harness, f fixtureFacts) error {
		return eachClaim(h, f, func(eob map[string]any) error {
			if profiles := fmt.Sprint(eob["meta"]); !strings.Contains(profiles, "-NonFinancial") {
				return fmt.Errorf("claim %s meta %s names no NonFinancial profile", eob["id"], profiles)
			}
			return nil
		})
	},
	"_since applied": func(h *harness, f fixtureFacts) error {
		return window(h, p("_since", "valueInstant", "2025-03-01T00:00:00Z"), func(t time.Time) bool {
			return !t.Before(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
		})
	},
	"_until applied": func(h *harness, f fixtureFacts) error {
		return window(h, p("_until", "valueInstant", "2023-06-01T00:00:00Z"), func(t time.Time) bool {
			return !t.After(time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC))
		})
	},
	"_type applied": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member), p("_type", "valueString", "Condition"))})
		if err != nil {
			return err
		}
		for typ := range ex.resources {
			if typ != "Condition" {
				return fmt.Errorf("_type=Condition exported %s", typ)
			}
		}
		if len(ex.resources["Condition"]) == 0 {
			return errors.New("no Condition exported")
		}
		return nil
	},
	"_typeFilter applied": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", p("_type", "valueString", "Observation"),
			p("_typeFilter", "valueString", "Observation?category=laboratory"))})
		if err != nil {
			return err
		}
		if len(ex.resources["Observation"]) == 0 {
			return errors.New("no Observation exported")
		}
		for _, o := range ex.resources["Observation"] {
			if !strings.Contains(fmt.Sprint(o["category"]), "laboratory") {
				return fmt.Errorf("Observation/%s is not a laboratory result", o["id"])
			}
		}
		return nil
	},
	"patient applied": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		if c := ex.compartments(h.data); len(c) != 1 || !c[f.member] {
			return fmt.Errorf("patient=%s exported the compartments of %v", f.member, keysOf(c))
		}
		return nil
	},
	"members only": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot")})
		if err != nil {
			return err
		}
		members := groupInfo(h.t, h.data, "group-01").Members
		for pid := range ex.compartments(h.data) {
			if !slices.Contains(members, pid) {
				return fmt.Errorf("Patient/%s is not a member but was exported", pid)
			}
		}
		return nil
	},
	"last download recorded": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("download", patientParam(f.member))})
		if err != nil {
			return err
		}
		pat, err := h.readResource(TestClientID, "Patient", f.member)
		if err != nil {
			return err
		}
		got := lastDownloads(pat)
		tt, _ := time.Parse(time.RFC3339Nano, ex.manifest.TransactionTime)
		if len(got) != 1 {
			return fmt.Errorf("Patient/%s has last-download values %v after a download", f.member, got)
		}
		if v, err := time.Parse(time.RFC3339Nano, got[0]); err != nil || !v.Equal(tt) {
			return fmt.Errorf("Patient/%s last download %s, want the transaction time %s", f.member, got[0], ex.manifest.TransactionTime)
		}
		return nil
	},
	"snapshot untracked": func(h *harness, f fixtureFacts) error {
		before, err := h.readResource(TestClientID, "Patient", f.second)
		if err != nil {
			return err
		}
		if _, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.second))}); err != nil {
			return err
		}
		after, err := h.readResource(TestClientID, "Patient", f.second)
		if err != nil {
			return err
		}
		if !jsonEqual(before, after) {
			return fmt.Errorf("a snapshot changed Patient/%s: %v", f.second, after["extension"])
		}
		return nil
	},
	"last download replaced": func(h *harness, f fixtureFacts) error {
		if _, err := h.runExport(exportRequest{params: standard("download", patientParam(f.withEarlier))}); err != nil {
			return err
		}
		pat, err := h.readResource(TestClientID, "Patient", f.withEarlier)
		if err != nil {
			return err
		}
		if got := lastDownloads(pat); len(got) != 1 {
			return fmt.Errorf("Patient/%s has %d last-download values %v, want 1", f.withEarlier, len(got), got)
		}
		return nil
	},
	"file content type": func(h *harness, f fixtureFacts) error {
		return eachFile(h, f, func(ef exportFile) error {
			if ef.contentType != "application/fhir+ndjson" {
				return fmt.Errorf("%s served as %q", ef.ref.URL, ef.contentType)
			}
			return nil
		})
	},
	"manifest complete": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(ex.status.body, &m); err != nil {
			return err
		}
		for _, k := range []string{"transactionTime", "request", "requiresAccessToken", "output", "error"} {
			if _, ok := m[k]; !ok {
				return fmt.Errorf("the manifest lacks %s", k)
			}
		}
		if m["requiresAccessToken"] != true {
			return fmt.Errorf("requiresAccessToken is %v", m["requiresAccessToken"])
		}
		return nil
	},
	"counts match": func(h *harness, f fixtureFacts) error {
		return eachFile(h, f, func(ef exportFile) error {
			if ef.ref.Count == nil {
				return fmt.Errorf("%s: no count", ef.ref.URL)
			}
			if *ef.ref.Count != len(ef.lines) {
				return fmt.Errorf("%s: count %d but %d lines", ef.ref.URL, *ef.ref.Count, len(ef.lines))
			}
			return nil
		})
	},
	"auth required": func(h *harness, f fixtureFacts) error {
		r, err := h.do(http.MethodGet, "/Group/group-01", "", nil, nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusUnauthorized {
			return fmt.Errorf("GET Group/group-01 without a token: HTTP %d", r.status)
		}
		return nil
	},
	"files need the token": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		r, err := h.do(http.MethodGet, ex.manifest.Output[0].URL, "", nil, nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusUnauthorized {
			return fmt.Errorf("file without a token: HTTP %d", r.status)
		}
		return nil
	},
	"DELETE cancels": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		tok := h.token(TestClientID)
		if r, err := h.do(http.MethodDelete, ex.statusURL, tok, nil, nil); err != nil || r.status != http.StatusAccepted {
			return fmt.Errorf("DELETE: %v HTTP %d", err, r.status)
		}
		if r, err := h.do(http.MethodGet, ex.statusURL, tok, nil, nil); err != nil || r.status != http.StatusNotFound {
			return fmt.Errorf("status after DELETE: %v HTTP %d", err, r.status)
		}
		return nil
	},
	"profiles kept": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", p("_type", "valueString", "Condition"))})
		if err != nil {
			return err
		}
		for _, c := range ex.resources["Condition"] {
			if _, ok := c["category"]; !ok {
				return fmt.Errorf("Condition/%s has no category (US Core Condition requires one)", c["id"])
			}
		}
		return nil
	},
	"Prefer required": func(h *harness, f fixtureFacts) error {
		return wantRefused(h, exportRequest{prefer: "-", params: standard("snapshot")}, http.StatusBadRequest)
	},
	"unsupported parameter refused": func(h *harness, f fixtureFacts) error {
		return wantRefused(h, exportRequest{params: standard("snapshot", p("_elements", "valueString", "id"))}, http.StatusBadRequest)
	},
	"Content-Location": func(h *harness, f fixtureFacts) error {
		r, err := h.kickoff(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		if r.status != http.StatusAccepted || !strings.HasPrefix(r.header.Get("Content-Location"), "http") {
			return fmt.Errorf("kick-off: HTTP %d, Content-Location %q", r.status, r.header.Get("Content-Location"))
		}
		_, err = h.finish(TestClientID, r.header.Get("Content-Location"))
		return err
	},
	"one type per file": func(h *harness, f fixtureFacts) error {
		return eachFile(h, f, func(ef exportFile) error {
			for i, l := range ef.lines {
				var res struct {
					ResourceType string `json:"resourceType"`
				}
				json.Unmarshal(l, &res)
				if ef.kind == "output" && res.ResourceType != ef.ref.Type {
					return fmt.Errorf("%s line %d is a %s in a %s file", ef.ref.URL, i+1, res.ResourceType, ef.ref.Type)
				}
			}
			return nil
		})
	},
	"CapabilityStatement declares the export": func(h *harness, f fixtureFacts) error {
		r, err := h.do(http.MethodGet, "/metadata", "", nil, nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.body), "http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export") {
			return errors.New("the CapabilityStatement does not declare davinci-data-export")
		}
		return nil
	},
	"Group search": func(h *harness, f fixtureFacts) error {
		npi := groupInfo(h.t, h.data, "group-01").NPI
		r, err := h.do(http.MethodGet, "/Group?identifier="+npi, h.token(TestClientID), nil, nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"id":"group-01"`) {
			return fmt.Errorf("Group?identifier=%s: HTTP %d without group-01", npi, r.status)
		}
		return nil
	},
	"absolute file URLs": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		for _, o := range ex.manifest.Output {
			if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
				return fmt.Errorf("file URL %q is not absolute", o.URL)
			}
		}
		return nil
	},
	"non-member reported": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member), patientParam(f.nonMember))})
		if err != nil {
			return err
		}
		if !strings.Contains(fmt.Sprint(ex.errors), "Patient/"+f.nonMember) {
			return fmt.Errorf("no OperationOutcome reports Patient/%s", f.nonMember)
		}
		return nil
	},
	"bad signature refused": func(h *harness, f fixtureFacts) error {
		return tokenRefused(h, smart.AssertionOptions{CorruptSignature: true})
	},
	"audience checked": func(h *harness, f fixtureFacts) error {
		return tokenRefused(h, smart.AssertionOptions{Audience: "https://elsewhere.example/token"})
	},
	"expiry checked": func(h *harness, f fixtureFacts) error {
		return tokenRefused(h, smart.AssertionOptions{ExpiresIn: -time.Minute})
	},
	"replay refused": func(h *harness, f fixtureFacts) error {
		jti := fmt.Sprintf("replay-%d", time.Now().UnixNano())
		if _, _, err := h.requestToken(TestClientID, "system/*.read", smart.AssertionOptions{JTI: jti}); err != nil {
			return fmt.Errorf("first use of the jti: %v", err)
		}
		return tokenRefused(h, smart.AssertionOptions{JTI: jti})
	},
	"unknown kid refused": func(h *harness, f fixtureFacts) error {
		return tokenRefused(h, smart.AssertionOptions{KeyID: "no-such-key"})
	},
	"jobs isolated": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{group: "group-02", params: standard("snapshot")})
		if err != nil {
			return err
		}
		other := h.token(OtherClientID)
		for _, u := range []string{ex.statusURL, ex.manifest.Output[0].URL} {
			r, err := h.do(http.MethodGet, u, other, nil, nil)
			if err != nil {
				return err
			}
			if r.status != http.StatusNotFound {
				return fmt.Errorf("another client got HTTP %d for %s", r.status, u)
			}
		}
		return nil
	},
	"Expires on the manifest": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		exp := ex.status.header.Get("Expires")
		t, err := http.ParseTime(exp)
		if err != nil {
			return fmt.Errorf("the completed status response's Expires %q is not an HTTP date", exp)
		}
		if !t.After(time.Now()) {
			return fmt.Errorf("the files expire at %s, already past", exp)
		}
		return nil
	},
	"manifest is JSON": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		ct := ex.status.header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return fmt.Errorf("the manifest is served as %q, want application/json", ct)
		}
		return nil
	},
	"Observations valid R4": func(h *harness, f fixtureFacts) error {
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member), p("_type", "valueString", "Observation"))})
		if err != nil {
			return err
		}
		parser, err := r4.New()
		if err != nil {
			return err
		}
		n := 0
		for _, ef := range ex.files {
			if ef.kind != "output" {
				continue
			}
			for i, l := range ef.lines {
				n++
				if issues := parser.Check(l); validators.CountErrors(issues) > 0 {
					return fmt.Errorf("%s line %d is not valid R4: %v", ef.ref.URL, i+1, issues)
				}
			}
		}
		if n == 0 {
			return errors.New("no Observation exported")
		}
		return nil
	},
	"ndjson aliases accepted": func(h *harness, f fixtureFacts) error {
		// Bulk Data: a server SHALL accept the abbreviations
		// application/ndjson and ndjson for application/fhir+ndjson.
		for _, v := range []string{"application/fhir+ndjson", "application/ndjson", "ndjson"} {
			ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member), p("_outputFormat", "valueString", v))})
			if err != nil {
				return fmt.Errorf("_outputFormat %s: %w", v, err)
			}
			if len(ex.keys()) == 0 {
				return fmt.Errorf("_outputFormat %s: nothing exported", v)
			}
		}
		return nil
	},
	"GET kick-off accepted": func(h *harness, f fixtureFacts) error {
		// Bulk Data allows the kick-off as a GET with the parameters in
		// the query.
		k, err := h.kickoff(exportRequest{method: http.MethodGet, params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		if k.status != http.StatusAccepted {
			return fmt.Errorf("GET kick-off answered %d", k.status)
		}
		return nil
	},

	"Retry-After while in progress": func(h *harness, f fixtureFacts) error {
		// Holding the workers keeps the job running, so the status request
		// answers 202 once statusHold has passed.
		h.hold()
		defer func() {
			h.unhold()
			waitIdle(h)
		}()
		k, err := h.kickoff(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		if k.status != http.StatusAccepted {
			return fmt.Errorf("kick-off: HTTP %d", k.status)
		}
		r, err := h.do(http.MethodGet, k.header.Get("Content-Location"), h.token(TestClientID), nil, nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusAccepted {
			return fmt.Errorf("status of a held job: HTTP %d, want 202", r.status)
		}
		ra := r.header.Get("Retry-After")
		if n, err := strconv.Atoi(ra); err != nil || n < 0 {
			if _, err := http.ParseTime(ra); err != nil {
				return fmt.Errorf("in-progress status: Retry-After %q is neither seconds nor an HTTP date", ra)
			}
		}
		return nil
	},
	"kick-off errors are OperationOutcomes": func(h *harness, f fixtureFacts) error {
		for _, c := range []struct {
			name   string
			req    exportRequest
			status int
		}{
			{"bad exportMode", exportRequest{params: standard("everything")}, http.StatusBadRequest},
			{"unknown Group", exportRequest{group: "no-such-group", params: standard("snapshot")}, http.StatusNotFound},
		} {
			r, err := h.kickoff(c.req)
			if err != nil {
				return err
			}
			if r.status != c.status {
				return fmt.Errorf("%s: HTTP %d, want %d", c.name, r.status, c.status)
			}
			if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/fhir+json" && mt != "application/json" {
				return fmt.Errorf("%s: error served as %q", c.name, r.header.Get("Content-Type"))
			}
			if _, err := r.outcome(); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
		return nil
	},
	"exportType hl7.fhir.us.davinci-pdex accepted": func(h *harness, f fixtureFacts) error {
		// standard() sends exportType hl7.fhir.us.davinci-pdex, the value
		// edition 2.0.0 requires.
		ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
		if err != nil {
			return err
		}
		if len(ex.keys()) == 0 {
			return errors.New("nothing exported")
		}
		return nil
	},
	"CapabilityStatement declares Group search": func(h *harness, f fixtureFacts) error {
		r, err := h.do(http.MethodGet, "/metadata", "", nil, nil)
		if err != nil {
			return err
		}
		var cs struct {
			Rest []struct {
				Resource []struct {
					Type        string `json:"type"`
					Interaction []struct {
						Code string `json:"code"`
					} `json:"interaction"`
					SearchParam []struct {
						Name string `json:"name"`
					} `json:"searchParam"`
				} `json:"resource"`
			} `json:"rest"`
		}
		if err := json.Unmarshal(r.body, &cs); err != nil {
			return fmt.Errorf("/metadata: HTTP %d: %v", r.status, err)
		}
		for _, rest := range cs.Rest {
			for _, res := range rest.Resource {
				if res.Type != "Group" {
					continue
				}
				if !slices.ContainsFunc(res.Interaction, func(i struct {
					Code string `json:"code"`
				}) bool {
					return i.Code == "search-type"
				}) {
					return errors.New("Group has no search-type interaction")
				}
				for _, want := range []string{"identifier", "characteristic"} {
					if !slices.ContainsFunc(res.SearchParam, func(sp struct {
						Name string `json:"name"`
					}) bool {
						return sp.Name == want
					}) {
						return fmt.Errorf("Group search parameter %s is not declared", want)
					}
				}
				return nil
			}
		}
		return errors.New("the CapabilityStatement has no Group resource")
	},
	"SMART configuration complete": func(h *harness, f fixtureFacts) error {
		r, err := h.do(http.MethodGet, "/.well-known/smart-configuration", "", nil, nil)
		if err != nil {
			return err
		}
		var sc map[string]any
		if err := json.Unmarshal(r.body, &sc); err != nil {
			return fmt.Errorf("smart-configuration: HTTP %d: %v", r.status, err)
		}
		if sc["token_endpoint"] != h.srv.TokenURL() {
			return fmt.Errorf("token_endpoint %v, want %s", sc["token_endpoint"], h.srv.TokenURL())
		}
		for k, want := range map[string]string{
			"grant_types_supported":                            "client_credentials",
			"token_endpoint_auth_methods_supported":            "private_key_jwt",
			"token_endpoint_auth_signing_alg_values_supported": "RS384",
		} {
			if !slices.Contains(asList(sc[k]), any(want)) {
				return fmt.Errorf("%s is %v, without %s", k, sc[k], want)
			}
		}
		return nil
	},
	"token expires_in": func(h *harness, f fixtureFacts) error {
		tr, _, err := h.requestToken(TestClientID, "system/*.read", smart.AssertionOptions{})
		if err != nil {
			return err
		}
		if tr.ExpiresIn <= 0 {
			return fmt.Errorf("the token response's expires_in is %d", tr.ExpiresIn)
		}
		return nil
	},
	"unknown client refused": func(h *harness, f fixtureFacts) error {
		// Signed with a registered client's key, but in the name of a
		// client the server does not know.
		cr := h.credentials(TestClientID)
		cr.ClientID = "no-such-client"
		a, err := cr.Assertion(smart.AssertionOptions{Now: h.now()})
		if err != nil {
			return err
		}
		return formRefused(h, smart.Form(a, "system/*.read"), "invalid_client")
	},
	"grant_type checked": func(h *harness, f fixtureFacts) error {
		form, err := correctForm(h)
		if err != nil {
			return err
		}
		form.Set("grant_type", "password")
		return formRefused(h, form, "unsupported_grant_type")
	},
	"client_assertion_type checked": func(h *harness, f fixtureFacts) error {
		form, err := correctForm(h)
		if err != nil {
			return err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		return formRefused(h, form, "invalid_client")
	},
	"assertion alg not trusted": func(h *harness, f fixtureFacts) error {
		pub, err := keys.PublicPEM(h.credentials(TestClientID).Key.Public())
		if err != nil {
			return err
		}
		for _, c := range []struct {
			name string
			opts smart.AssertionOptions
		}{
			{"alg none", smart.AssertionOptions{AlgNone: true}},
			{"HS256 keyed with the public key", smart.AssertionOptions{HS256Secret: pub}},
		} {
			if err := tokenRefused(h, c.opts); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
		return nil
	},
	"Group entitlement enforced": func(h *harness, f fixtureFacts) error {
		// The other client is entitled to the last Group only.
		gs, err := h.data.Groups()
		if err != nil {
			return err
		}
		group := ""
		for _, g := range gs {
			if !slices.Contains(h.testClient(OtherClientID).Groups, g.ID) {
				group = g.ID
				break
			}
		}
		if group == "" {
			return errors.New("the other client is entitled to every Group")
		}
		r, err := h.do(http.MethodGet, "/Group/"+group, h.token(OtherClientID), nil, nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusForbidden && r.status != http.StatusNotFound {
			return fmt.Errorf("the other client read Group/%s: HTTP %d", group, r.status)
		}
		k, err := h.kickoff(exportRequest{client: OtherClientID, group: group, params: standard("snapshot")})
		if err != nil {
			return err
		}
		if k.status == http.StatusAccepted {
			waitIdle(h)
		}
		if k.status != http.StatusForbidden && k.status != http.StatusNotFound {
			return fmt.Errorf("the other client's kick-off on Group/%s: HTTP %d", group, k.status)
		}
		return nil
	},
	"Group read": func(h *harness, f fixtureFacts) error {
		g, err := h.readResource(TestClientID, "Group", "group-01")
		if err != nil {
			return err
		}
		if g["resourceType"] != "Group" || g["id"] != "group-01" {
			return fmt.Errorf("GET Group/group-01 gave %v/%v", g["resourceType"], g["id"])
		}
		return nil
	},
	"Group shape": func(h *harness, f fixtureFacts) error {
		// The ATR Group profile requires managingEntity (the payer).
		g, err := h.readResource(TestClientID, "Group", "group-01")
		if err != nil {
			return err
		}
		me, _ := g["managingEntity"].(map[string]any)
		if want := groupInfo(h.t, h.data, "group-01").ManagingEntity; me["reference"] != want {
			return fmt.Errorf("Group/group-01 managingEntity %v, want %s", g["managingEntity"], want)
		}
		return nil
	},
}

// faultProbes names, for every fault, the probe of the behaviour it breaks.
var faultProbes = map[string]string{
	FaultRefuseGetKickoff:      "GET kick-off accepted",
	FaultAnyExportType:         "exportType enforced",
	FaultAnyExportMode:         "exportMode enforced",
	FaultLeakOptedOut:          "opted-out withheld",
	FaultKeepFinancial:         "financial stripped",
	FaultFinancialProfile:      "NonFinancial profile",
	FaultIgnoreSince:           "_since applied",
	FaultIgnoreUntil:           "_until applied",
	FaultIgnoreType:            "_type applied",
	FaultIgnoreTypeFilter:      "_typeFilter applied",
	FaultIgnorePatient:         "patient applied",
	FaultIncludeNonMember:      "members only",
	FaultSkipLastDownload:      "last download recorded",
	FaultTrackOnSnapshot:       "snapshot untracked",
	FaultAppendLastDownload:    "last download replaced",
	FaultWrongContentType:      "file content type",
	FaultManifestMissing:       "manifest complete",
	FaultWrongCount:            "counts match",
	FaultNoAuth:                "auth required",
	FaultFilesWithoutToken:     "files need the token",
	FaultIgnoreDelete:          "DELETE cancels",
	FaultBreakProfile:          "profiles kept",
	FaultAcceptNoPrefer:        "Prefer required",
	FaultAcceptUnknownParam:    "unsupported parameter refused",
	FaultNoContentLocation:     "Content-Location",
	FaultMixedTypesInFile:      "one type per file",
	FaultCapabilityNoExport:    "CapabilityStatement declares the export",
	FaultGroupSearchBroken:     "Group search",
	FaultRelativeURLs:          "absolute file URLs",
	FaultNoErrorForNonMember:   "non-member reported",
	FaultAcceptBadSignature:    "bad signature refused",
	FaultIgnoreAudience:        "audience checked",
	FaultIgnoreExpiry:          "expiry checked",
	FaultAllowReplay:           "replay refused",
	FaultAcceptUnknownKid:      "unknown kid refused",
	FaultShareJobs:             "jobs isolated",
	FaultNoExpires:             "Expires on the manifest",
	FaultManifestContentType:   "manifest is JSON",
	FaultInvalidR4:             "Observations valid R4",
	FaultRefuseNDJSONAlias:     "ndjson aliases accepted",
	FaultRefuseOutputFormat:    "ndjson aliases accepted",
	FaultNoRetryAfter:          "Retry-After while in progress",
	FaultPlainTextErrors:       "kick-off errors are OperationOutcomes",
	FaultRefusePDexType:        "exportType hl7.fhir.us.davinci-pdex accepted",
	FaultCapabilityNoSearch:    "CapabilityStatement declares Group search",
	FaultSmartConfigIncomplete: "SMART configuration complete",
	FaultTokenWithoutExpiresIn: "token expires_in",
	FaultAcceptUnknownClient:   "unknown client refused",
	FaultAcceptWrongGrantType:  "grant_type checked",
	FaultAcceptWrongAssertType: "client_assertion_type checked",
	FaultTrustHeaderAlg:        "assertion alg not trusted",
	FaultIgnoreEntitlement:     "Group entitlement enforced",
	FaultNoGroupRead:           "Group read",
	FaultGroupBadShape:         "Group shape",
}

// canaries are behaviours from different areas (export content, kick-off
// validation, file serving, tokens) checked under every fault, to show that
// a fault breaks its own behaviour and leaves these alone.
var canaries = []string{"opted-out withheld", "Prefer required", "file content type", "bad signature refused"}

// TestFaults: every fault breaks the behaviour it names (its probe passes on
// a clean server and fails with the fault on), and leaves unrelated
// behaviours (the canaries) intact.
func TestFaults(t *testing.T) {
	d := testData(t)
	f := facts(t, d)
	for _, fl := range Faults() {
		if _, ok := faultProbes[fl.Name]; !ok && in200(fl) {
			t.Errorf("fault %s has no probe in faultProbes", fl.Name)
		}
	}
	for name, pr := range faultProbes {
		if probes[pr] == nil {
			t.Errorf("fault %s names a probe %q that does not exist", name, pr)
		}
	}
	t.Run("clean server", func(t *testing.T) {
		h := startServer(t, Options{})
		names := make([]string, 0, len(probes))
		for n := range probes {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if err := probes[n](h, f); err != nil {
				t.Errorf("%s: broken on the clean server: %v", n, err)
			}
		}
	})
	for _, fl := range Faults() {
		if !in200(fl) {
			continue // TestEditionFaults
		}
		t.Run(fl.Name, func(t *testing.T) {
			t.Parallel() // each fault has its own server and database
			h := startServer(t, Options{Faults: []string{fl.Name}})
			own := faultProbes[fl.Name]
			// A fault without a probe is reported above; the canaries
			// still run for it.
			if pr := probes[own]; pr != nil {
				if err := pr(h, f); err == nil {
					t.Errorf("with fault %s on, %q still behaves correctly", fl.Name, own)
				} else {
					t.Logf("%s: %v", own, err)
				}
			}
			for _, c := range canaries {
				if c == own || canaryExempt(fl.Name, c) {
					continue
				}
				if err := probes[c](h, f); err != nil {
					t.Errorf("fault %s also broke %q: %v", fl.Name, c, err)
				}
			}
		})
	}
}

// in200 reports whether a fault exists in edition 2.0.0, whose servers
// TestFaults starts; the others are TestEditionFaults'.
func in200(f Fault) bool { return len(f.Editions) == 0 || slices.Contains(f.Editions, "2.0.0") }

// canaryExempt reports whether a fault legitimately breaks a canary, so
// that the canary is not run under it.
func canaryExempt(fault, canary string) bool {
	exports := canary == "opted-out withheld" || canary == "file content type"
	switch fault {
	case FaultNoContentLocation:
		return exports // every export needs the status URL
	case FaultRefusePDexType:
		return exports // every export sends the exportType the fault refuses
	case FaultPlainTextErrors:
		// The canary wants the refusal to be an OperationOutcome, which is
		// exactly what the fault takes away (its own probe shows it).
		return canary == "Prefer required"
	}
	return false
}

func wantRefused(h *harness, r exportRequest, status int) error {
	resp, err := h.kickoff(r)
	if err != nil {
		return err
	}
	if resp.status != status {
		return fmt.Errorf("kick-off: HTTP %d, want %d", resp.status, status)
	}
	if _, err := resp.outcome(); err != nil {
		return err
	}
	return nil
}

// eachClaim exports one member's EOBs and checks every claim EOB.
func eachClaim(h *harness, f fixtureFacts, check func(map[string]any) error) error {
	ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member), p("_type", "valueString", "ExplanationOfBenefit"))})
	if err != nil {
		return err
	}
	n := 0
	for _, eob := range ex.resources["ExplanationOfBenefit"] {
		if eob["use"] != "claim" {
			continue
		}
		n++
		if err := check(eob); err != nil {
			return err
		}
	}
	if n == 0 {
		return errors.New("no claim EOB exported")
	}
	return nil
}

// eachFile exports one member's data and checks every file.
func eachFile(h *harness, f fixtureFacts, check func(exportFile) error) error {
	ex, err := h.runExport(exportRequest{params: standard("snapshot", patientParam(f.member))})
	if err != nil {
		return err
	}
	for _, ef := range ex.files {
		if err := check(ef); err != nil {
			return err
		}
	}
	return nil
}

// window exports with a _since or _until and checks every resource's
// meta.lastUpdated.
func window(h *harness, prm bulk.Param, in func(time.Time) bool) error {
	ex, err := h.runExport(exportRequest{params: standard("snapshot", prm)})
	if err != nil {
		return err
	}
	n := 0
	for typ, rs := range ex.resources {
		for _, r := range rs {
			n++
			meta, _ := r["meta"].(map[string]any)
			lu, _ := meta["lastUpdated"].(string)
			t, err := time.Parse(time.RFC3339Nano, lu)
			if err != nil || !in(t) {
				return fmt.Errorf("%s/%s lastUpdated %q is outside %s=%s", typ, r["id"], lu, prm.Name, prm.Value)
			}
		}
	}
	if n == 0 {
		return errors.New("nothing exported")
	}
	return nil
}

func tokenRefused(h *harness, o smart.AssertionOptions) error {
	tr, resp, err := h.requestToken(TestClientID, "system/*.read", o)
	if err == nil {
		return fmt.Errorf("the token endpoint issued a token (scope %q)", tr.Scope)
	}
	var te *smart.TokenError
	if !errors.As(err, &te) || (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized) || te.Code != "invalid_client" {
		return fmt.Errorf("refused, but not with 400/401 invalid_client: %v", err)
	}
	return nil
}

// correctForm is a correct token request of the test client.
func correctForm(h *harness) (url.Values, error) {
	a, err := h.credentials(TestClientID).Assertion(smart.AssertionOptions{Now: h.now()})
	if err != nil {
		return nil, err
	}
	return smart.Form(a, "system/*.read"), nil
}

// formRefused posts a token request and checks that it is refused with
// the OAuth error code (RFC 6749 §5.2).
func formRefused(h *harness, form url.Values, code string) error {
	tr, resp, err := smart.RequestToken(context.Background(), h.hc, h.srv.TokenURL(), form)
	if err == nil {
		return fmt.Errorf("the token endpoint issued a token (scope %q)", tr.Scope)
	}
	var te *smart.TokenError
	if !errors.As(err, &te) || (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized) || te.Code != code {
		return fmt.Errorf("refused, but not with 400/401 %s: %v", code, err)
	}
	return nil
}

// waitIdle waits until no job is queued or running.
func waitIdle(h *harness) {
	for range 500 {
		var n int
		h.srv.store.db.QueryRow(`SELECT count(*) FROM jobs WHERE state IN ('queued','running')`).Scan(&n)
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
