package reference

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/keys"
)

func TestMetadata(t *testing.T) {
	tests := []struct {
		edition      string
		instantiates []string
		params, ops  []string
	}{
		{"2.0.0", nil, []string{"identifier", "characteristic"}, []string{"davinci-data-export"}},
		{"2.1.0", []string{providerAccessCS + "|2.1.0"}, []string{"identifier", "characteristic", "code"}, []string{"davinci-data-export"}},
		{"2.2.0", []string{providerAccessCS + "|2.2.0"}, []string{"identifier", "characteristic", "code", "characteristic-value-reference"},
			[]string{"davinci-data-export", "provider-member-match"}},
	}
	for _, tt := range tests {
		t.Run(tt.edition, func(t *testing.T) {
			h := startServer(t, Options{Edition: tt.edition})
			checkMetadata(t, h, tt.edition, tt.instantiates, tt.params, tt.ops)
		})
	}
}

func checkMetadata(t *testing.T, h *harness, edition string, instantiates, wantParams, wantOps []string) {
	r := h.mustDo(http.MethodGet, "/metadata", "", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /metadata: HTTP %d", r.status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("Content-Type %q, want application/fhir+json", ct)
	}
	var cs struct {
		ResourceType        string   `json:"resourceType"`
		FHIRVersion         string   `json:"fhirVersion"`
		Instantiates        []string `json:"instantiates"`
		ImplementationGuide []string `json:"implementationGuide"`
		Rest                []struct {
			Mode     string `json:"mode"`
			Resource []struct {
				Type        string `json:"type"`
				Interaction []struct {
					Code string `json:"code"`
				} `json:"interaction"`
				SearchParam []struct {
					Name string `json:"name"`
				} `json:"searchParam"`
				Operation []struct {
					Name       string `json:"name"`
					Definition string `json:"definition"`
				} `json:"operation"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(r.body, &cs); err != nil {
		t.Fatal(err)
	}
	if cs.ResourceType != "CapabilityStatement" || cs.FHIRVersion != "4.0.1" {
		t.Errorf("resourceType %q fhirVersion %q", cs.ResourceType, cs.FHIRVersion)
	}
	// The edition is declared where `run --edition auto` reads it.
	if !slices.Equal(cs.Instantiates, instantiates) {
		t.Errorf("instantiates %v, want %v", cs.Instantiates, instantiates)
	}
	if want := []string{pdexIG + "|" + edition}; !slices.Equal(cs.ImplementationGuide, want) {
		t.Errorf("implementationGuide %v, want %v", cs.ImplementationGuide, want)
	}
	if len(cs.Rest) != 1 || cs.Rest[0].Mode != "server" {
		t.Fatalf("rest: %+v", cs.Rest)
	}
	var group bool
	for _, res := range cs.Rest[0].Resource {
		if res.Type != "Group" {
			continue
		}
		group = true
		var interactions, params, ops []string
		for _, i := range res.Interaction {
			interactions = append(interactions, i.Code)
		}
		for _, p := range res.SearchParam {
			params = append(params, p.Name)
		}
		for _, want := range []string{"read", "search-type"} {
			if !slices.Contains(interactions, want) {
				t.Errorf("Group interactions %v lack %s", interactions, want)
			}
		}
		if !slices.Equal(params, wantParams) {
			t.Errorf("Group search parameters %v, want %v", params, wantParams)
		}
		for _, o := range res.Operation {
			ops = append(ops, o.Name)
			if o.Name == "davinci-data-export" && o.Definition != "http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export" {
				t.Errorf("davinci-data-export has definition %s, want the ATR one", o.Definition)
			}
		}
		if !slices.Equal(ops, wantOps) {
			t.Errorf("Group operations %v, want %v", ops, wantOps)
		}
	}
	if !group {
		t.Error("the CapabilityStatement declares no Group resource")
	}
}

func TestSmartConfiguration(t *testing.T) {
	h := startServer(t, Options{})
	r := h.mustDo(http.MethodGet, "/.well-known/smart-configuration", "", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d", r.status)
	}
	var sc map[string]any
	if err := json.Unmarshal(r.body, &sc); err != nil {
		t.Fatal(err)
	}
	if sc["token_endpoint"] != h.srv.URL+"/auth/token" {
		t.Errorf("token_endpoint %v, want %s/auth/token", sc["token_endpoint"], h.srv.URL)
	}
	has := func(key, want string) {
		t.Helper()
		list, _ := sc[key].([]any)
		if !slices.Contains(list, any(want)) {
			t.Errorf("%s %v lacks %s", key, sc[key], want)
		}
	}
	has("token_endpoint_auth_methods_supported", "private_key_jwt")
	has("token_endpoint_auth_signing_alg_values_supported", "RS384")
	has("token_endpoint_auth_signing_alg_values_supported", "ES384")
	has("scopes_supported", "system/*.read")
	has("capabilities", "client-confidential-asymmetric")
	// The advertised endpoint really issues tokens.
	if tok := h.token(TestClientID); tok == "" {
		t.Error("no token from the advertised endpoint")
	}
}

// TestAuthorization: every FHIR endpoint except discovery needs a valid
// bearer token (401 otherwise, with a WWW-Authenticate challenge).
func TestAuthorization(t *testing.T) {
	clock := newTestClock()
	h := startServer(t, Options{Now: clock.Now})
	good := h.token(TestClientID)
	// A token whose MAC is broken, one for an unknown format, and one that
	// expires: issued now, used after the clock moves past its lifetime.
	tampered := good[:len(good)-2] + "AA"
	if tampered == good {
		tampered = good[:len(good)-2] + "BB"
	}
	endpoints := []struct{ method, path string }{
		{http.MethodGet, "/Group/group-01"},
		{http.MethodGet, "/Group?identifier=x"},
		{http.MethodGet, "/Patient/pat-0003"},
		{http.MethodPost, "/Group/group-01/$davinci-data-export"},
		{http.MethodGet, "/Group/group-01/$davinci-data-export"},
		{http.MethodGet, "/jobs/0123456789abcdef0123456789abcdef"},
		{http.MethodDelete, "/jobs/0123456789abcdef0123456789abcdef"},
		{http.MethodGet, "/files/0123456789abcdef0123456789abcdef"},
	}
	tokens := []struct {
		name, header string
	}{
		{"no token", ""},
		{"garbage", "Bearer not-a-token"},
		{"tampered", "Bearer " + tampered},
		{"basic scheme", "Basic dXNlcjpwYXNz"},
		{"JWT-looking", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		{"overlong", "Bearer v1." + strings.Repeat("A", 8000) + ".x"},
	}
	for _, e := range endpoints {
		for _, tk := range tokens {
			t.Run(e.method+" "+e.path+"/"+tk.name, func(t *testing.T) {
				hdr := http.Header{"Prefer": {"respond-async"}}
				if tk.header != "" {
					hdr.Set("Authorization", tk.header)
				}
				r := h.mustDo(e.method, e.path, "", hdr, nil)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("HTTP %d, want 401: %.200s", r.status, r.body)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
				if _, err := r.outcome(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	t.Run("good token works", func(t *testing.T) {
		if r := h.mustDo(http.MethodGet, "/Group/group-01", good, nil, nil); r.status != http.StatusOK {
			t.Fatalf("HTTP %d", r.status)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		clock.Advance(301 * time.Second)
		defer clock.Advance(-301 * time.Second)
		r := h.mustDo(http.MethodGet, "/Group/group-01", good, nil, nil)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("HTTP %d, want 401", r.status)
		}
	})
	t.Run("discovery needs no token", func(t *testing.T) {
		for _, p := range []string{"/metadata", "/.well-known/smart-configuration"} {
			if r := h.mustDo(http.MethodGet, p, "", nil, nil); r.status != http.StatusOK {
				t.Errorf("GET %s: HTTP %d", p, r.status)
			}
		}
	})
}

// TestScopeAndEntitlement: 403 for a Group the client is not entitled to.
func TestScopeAndEntitlement(t *testing.T) {
	h := startServer(t, Options{})
	other := h.token(OtherClientID)
	cases := []struct {
		name   string
		method string
		path   string
		token  string
		want   int
	}{
		{"other reads first Group", http.MethodGet, "/Group/group-01", other, http.StatusForbidden},
		{"other reads its Group", http.MethodGet, "/Group/group-02", other, http.StatusOK},
		{"other exports first Group", http.MethodPost, "/Group/group-01/$davinci-data-export", other, http.StatusForbidden},
		{"main reads both", http.MethodGet, "/Group/group-02", h.token(TestClientID), http.StatusOK},
		{"unknown Group", http.MethodGet, "/Group/no-such-group", other, http.StatusNotFound},
		{"unknown Group export", http.MethodPost, "/Group/no-such-group/$davinci-data-export", other, http.StatusNotFound},
		{"unknown operation", http.MethodPost, "/Group/group-02/$export-everything", other, http.StatusNotFound},
	}
	body := mustParameters(standard("snapshot"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.mustDo(c.method, c.path, c.token, http.Header{"Prefer": {"respond-async"}, "Content-Type": {"application/fhir+json"}}, body)
			if r.status != c.want {
				t.Fatalf("HTTP %d, want %d: %.200s", r.status, c.want, r.body)
			}
			if c.want != http.StatusOK {
				if _, err := r.outcome(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	t.Run("scope without read", func(t *testing.T) {
		tr, resp, err := h.requestToken(TestClientID, "system/*.write", smart.AssertionOptions{})
		if err != nil {
			// Refusing the scope at the token endpoint is as good as a 403.
			if resp == nil || resp.StatusCode < 400 {
				t.Fatalf("token request: %v", err)
			}
			return
		}
		r := h.mustDo(http.MethodGet, "/Group/group-01", tr.AccessToken, nil, nil)
		if r.status != http.StatusForbidden {
			t.Fatalf("HTTP %d with scope %q, want 403", r.status, tr.Scope)
		}
	})
}

func TestGroupSearch(t *testing.T) {
	h := startServer(t, Options{})
	d := testData(t)
	g1, g2 := groupInfo(t, d, "group-01"), groupInfo(t, d, "group-02")
	const charSystem = "urn:pdex-conform:group-characteristic"
	cases := []struct {
		name   string
		client string
		query  string
		want   []string
		status int
	}{
		{"npi value", TestClientID, "identifier=" + g1.NPI, []string{"group-01"}, 200},
		{"npi system|value", TestClientID, "identifier=" + url.QueryEscape("http://hl7.org/fhir/sid/us-npi|"+g2.NPI), []string{"group-02"}, 200},
		{"tin wrong system", TestClientID, "identifier=" + url.QueryEscape("http://hl7.org/fhir/sid/us-npi|"+g1.TIN), nil, 200},
		{"tin", TestClientID, "identifier=" + url.QueryEscape("urn:oid:2.16.840.1.113883.4.4|"+g1.TIN), []string{"group-01"}, 200},
		{"either npi", TestClientID, "identifier=" + g1.NPI + "," + g2.NPI, []string{"group-01", "group-02"}, 200},
		{"unknown identifier", TestClientID, "identifier=0000000000", nil, 200},
		{"characteristic", TestClientID, "characteristic=value-based-contract", []string{"group-01"}, 200},
		{"other characteristic", TestClientID, "characteristic=pcp-panel", []string{"group-02"}, 200},
		{"either characteristic", TestClientID, "characteristic=pcp-panel,value-based-contract", []string{"group-01", "group-02"}, 200},
		{"characteristic system|", TestClientID, "characteristic=" + url.QueryEscape(charSystem+"|"), []string{"group-01", "group-02"}, 200},
		{"characteristic and identifier", TestClientID, "characteristic=pcp-panel&identifier=" + g2.NPI, []string{"group-02"}, 200},
		{"characteristic and other identifier", TestClientID, "characteristic=pcp-panel&identifier=" + g1.NPI, nil, 200},
		{"characteristic no match", TestClientID, "characteristic=fee-for-service", nil, 200},
		{"no parameter lists all", TestClientID, "", []string{"group-01", "group-02"}, 200},
		{"other client sees its Group only", OtherClientID, "", []string{"group-02"}, 200},
		{"other client cannot find first Group", OtherClientID, "identifier=" + g1.NPI, nil, 200},
		{"unsupported parameter", TestClientID, "name=x", nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.mustDo(http.MethodGet, "/Group?"+c.query, h.token(c.client), nil, nil)
			if r.status != c.status {
				t.Fatalf("HTTP %d, want %d: %.200s", r.status, c.status, r.body)
			}
			if c.status != 200 {
				if _, err := r.outcome(); err != nil {
					t.Error(err)
				}
				return
			}
			var b struct {
				ResourceType string `json:"resourceType"`
				Type         string `json:"type"`
				Total        int    `json:"total"`
				Entry        []struct {
					FullURL  string `json:"fullUrl"`
					Resource struct {
						ResourceType string `json:"resourceType"`
						ID           string `json:"id"`
					} `json:"resource"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(r.body, &b); err != nil {
				t.Fatal(err)
			}
			if b.ResourceType != "Bundle" || b.Type != "searchset" {
				t.Errorf("got a %s of type %s, want a searchset Bundle", b.ResourceType, b.Type)
			}
			var got []string
			for _, e := range b.Entry {
				if e.Resource.ResourceType != "Group" || e.FullURL != h.srv.URL+"/Group/"+e.Resource.ID {
					t.Errorf("entry %+v", e)
				}
				got = append(got, e.Resource.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) || b.Total != len(c.want) {
				t.Errorf("got %v (total %d), want %v", got, b.Total, c.want)
			}
		})
	}
}

func TestGroupRead(t *testing.T) {
	h := startServer(t, Options{})
	g, err := h.readResource(TestClientID, "Group", "group-01")
	if err != nil {
		t.Fatal(err)
	}
	if g["resourceType"] != "Group" || g["id"] != "group-01" || g["type"] != "person" || g["actual"] != true {
		t.Errorf("Group/group-01: %v %v %v %v", g["resourceType"], g["id"], g["type"], g["actual"])
	}
	members, _ := g["member"].([]any)
	want := groupInfo(t, testData(t), "group-01").Members
	if len(members) != len(want) {
		t.Errorf("%d members, want %d", len(members), len(want))
	}
}

// TestRead: read by type and id, with the export's rules applied to reads.
func TestRead(t *testing.T) {
	h := startServer(t, Options{})
	d := testData(t)
	f := facts(t, d)
	var claim, prior string
	for _, r := range d.Resources {
		if r.Type != "ExplanationOfBenefit" || r.PatientID != f.member {
			continue
		}
		res := stored(t, d, r.Type, r.ID)
		if res["use"] == "preauthorization" && prior == "" {
			prior = r.ID
		}
		if res["use"] == "claim" && claim == "" {
			claim = r.ID
		}
	}
	cases := []struct {
		name, client, typ, id string
		want                  int
	}{
		{"member's Patient", TestClientID, "Patient", f.member, 200},
		{"member's Coverage", TestClientID, "Coverage", "cov-" + strings.TrimPrefix(f.member, "pat-"), 200},
		{"shared Organization", OtherClientID, "Organization", "org-payer", 200},
		{"Practitioner", TestClientID, "Practitioner", "prac-01", 200},
		{"unknown id", TestClientID, "Patient", "pat-9999", 404},
		{"unknown type", TestClientID, "Widget", "x", 404},
		{"Consent never served", TestClientID, "Consent", "consent-" + strings.TrimPrefix(f.optedOut, "pat-"), 404},
		{"opted-out member's Patient", TestClientID, "Patient", f.optedOut, 404},
		{"non-member's Patient", TestClientID, "Patient", f.nonMember, 404},
		{"member of a Group the client is not entitled to", OtherClientID, "Patient", f.onlyFirst, 404},
		{"claim EOB", TestClientID, "ExplanationOfBenefit", claim, 200},
		{"prior-auth EOB", TestClientID, "ExplanationOfBenefit", prior, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.mustDo(http.MethodGet, "/"+c.typ+"/"+c.id, h.token(c.client), nil, nil)
			if r.status != c.want {
				t.Fatalf("GET %s/%s: HTTP %d, want %d: %.200s", c.typ, c.id, r.status, c.want, r.body)
			}
			if c.want != 200 {
				if _, err := r.outcome(); err != nil {
					t.Error(err)
				}
				return
			}
			var res map[string]any
			if err := json.Unmarshal(r.body, &res); err != nil {
				t.Fatal(err)
			}
			if res["resourceType"] != c.typ || res["id"] != c.id {
				t.Errorf("got %v/%v", res["resourceType"], res["id"])
			}
			if c.typ == "ExplanationOfBenefit" {
				fin := financialPaths(res)
				switch res["use"] {
				case "claim":
					if len(fin) > 0 {
						t.Errorf("claim EOB read carries financial elements %v", fin)
					}
				case "preauthorization":
					if len(fin) == 0 {
						t.Error("prior-auth EOB read lost its amounts")
					}
				}
			}
		})
	}
}

func mustParameters(ps []bulk.Param) []byte { return bulk.Parameters(ps) }

// TestFacts: what the server reports of itself is consistent with the data
// and usable as is (`serve --write-config` and `run --target reference`
// build their configuration from it).
func TestFacts(t *testing.T) {
	h := startServer(t, Options{})
	d := testData(t)
	c, err := h.srv.Facts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	g := groupInfo(t, d, c.Group)
	opted := optedOut(t, d)
	if c.BaseURL != h.srv.URL || c.Edition != "2.0.0" || c.Group != "group-01" || c.LastDownloadExtension != LastTransmissionURL {
		t.Errorf("base %s edition %s group %s extension %s", c.BaseURL, c.Edition, c.Group, c.LastDownloadExtension)
	}
	if !slices.Equal(c.Members, g.Members) {
		t.Errorf("members %v, want the Group's %v", c.Members, g.Members)
	}
	var wantOpted []string
	for _, m := range g.Members {
		if opted[m] {
			wantOpted = append(wantOpted, m)
		}
	}
	if !slices.Equal(c.OptedOut, wantOpted) || len(wantOpted) == 0 {
		t.Errorf("optedOut %v, want %v", c.OptedOut, wantOpted)
	}
	if c.NonMember == "" || slices.Contains(g.Members, c.NonMember) || opted[c.NonMember] {
		t.Errorf("nonMember %q must be a patient outside the Group who has not opted out", c.NonMember)
	}
	if c.OtherGroup != "group-01" || c.Other == nil || c.Other.ID != OtherClientID {
		t.Errorf("otherGroup %q other client %+v", c.OtherGroup, c.Other)
	}
	// The credentials work as given.
	key, err := keys.ParsePrivate([]byte(c.Client.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	creds := smart.Credentials{ClientID: c.Client.ID, KeyID: c.Client.KeyID, Alg: c.Client.Alg, Key: key, TokenURL: h.srv.TokenURL()}
	a, err := creds.Assertion(smart.AssertionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, _, err := smart.RequestToken(t.Context(), h.hc, h.srv.TokenURL(), smart.Form(a, c.Scope))
	if err != nil {
		t.Fatalf("the configured credentials get no token: %v", err)
	}
	if r := h.mustDo(http.MethodGet, "/Group/"+c.Group, tr.AccessToken, nil, nil); r.status != http.StatusOK {
		t.Errorf("Group read with the configured client: HTTP %d", r.status)
	}
}
