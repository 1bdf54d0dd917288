package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/keys"
)

// clock is a settable time source shared by a test, its server and its
// assertions.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	rsClientID = "rs-client"
	ecClientID = "ec-client"
	rsKid      = "rs-key-1"
	ecKid      = "ec-key-1"
	jwksURL    = "https://client.example.org/.well-known/jwks.json"
)

// fixture is a registry of two clients (one RS384, one ES384) and a key
// that belongs to nobody.
type fixture struct {
	clock    *clock
	rsKey    *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	otherRSA *rsa.PrivateKey
	clients  map[string]*Client
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	rsKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		clock:    &clock{t: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)},
		rsKey:    rsKey,
		ecKey:    ecKey,
		otherRSA: otherRSA,
		clients:  map[string]*Client{},
	}
	for _, c := range []struct {
		id, kid string
		key     crypto.Signer
		jku     string
	}{
		{rsClientID, rsKid, rsKey, jwksURL},
		{ecClientID, ecKid, ecKey, ""},
	} {
		jwks, err := client.Credentials{ClientID: c.id, KeyID: c.kid, Key: c.key}.PublicJWKS()
		if err != nil {
			t.Fatal(err)
		}
		f.clients[c.id] = &Client{
			ID:      c.id,
			JWKS:    jwks,
			JWKSURL: c.jku,
			Scopes:  []string{"system/*.read", "system/*.rs"},
			Groups:  []string{"group-" + c.id},
		}
	}
	return f
}

func (f *fixture) lookup(id string) (*Client, bool) {
	c, ok := f.clients[id]
	return c, ok
}

// server starts a token endpoint over real HTTP.
func (f *fixture) server(t testing.TB, mutate func(*Options)) (*Server, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	opts := Options{
		TokenURL: ts.URL + "/auth/token",
		Clients:  f.lookup,
		Now:      f.clock.Now,
		Secret:   []byte("0123456789abcdef0123456789abcdef"),
	}
	if mutate != nil {
		mutate(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/auth/token", s.TokenHandler())
	return s, ts
}

func (f *fixture) creds(id, tokenURL string) client.Credentials {
	switch id {
	case ecClientID:
		return client.Credentials{ClientID: id, KeyID: ecKid, Key: f.ecKey, TokenURL: tokenURL}
	default:
		return client.Credentials{ClientID: id, KeyID: rsKid, Key: f.rsKey, TokenURL: tokenURL}
	}
}

type tokenResult struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r tokenResult) errorCode() string {
	s, _ := r.body["error"].(string)
	return s
}

func postBody(t testing.TB, hc *http.Client, tokenURL, contentType, body string) tokenResult {
	t.Helper()
	resp, err := hc.Post(tokenURL, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", tokenURL, err)
	}
	defer resp.Body.Close()
	var res tokenResult
	res.status, res.header = resp.StatusCode, resp.Header
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.raw = string(b)
	if err := json.Unmarshal([]byte(res.raw), &res.body); err != nil {
		t.Fatalf("token endpoint answered HTTP %d with a body that is not a JSON object: %q", res.status, res.raw)
	}
	return res
}

func postForm(t testing.TB, hc *http.Client, tokenURL string, form url.Values) tokenResult {
	t.Helper()
	return postBody(t, hc, tokenURL, "application/x-www-form-urlencoded", form.Encode())
}

// tokenCase is one token request. fault names the Faults switch that must
// let a refused request through; "" means no switch may.
type tokenCase struct {
	name string
	// build returns the form; tokenURL is the server's token URL.
	build func(t testing.TB, f *fixture, tokenURL string) url.Values
	// useFirst submits the same form once before the tested attempt.
	useFirst  bool
	status    int
	errorCode string
	fault     string
	// rawBody and contentType, when set, replace the form encoding.
	rawBody     func(f *fixture, tokenURL string) string
	contentType string
	method      string
}

// withAssertion builds a form around an assertion made by client id.
func withAssertion(id, scope string, opts client.AssertionOptions, edit func(url.Values)) func(testing.TB, *fixture, string) url.Values {
	return func(t testing.TB, f *fixture, tokenURL string) url.Values {
		t.Helper()
		opts.Now = f.clock.Now()
		a, err := f.creds(id, tokenURL).Assertion(opts)
		if err != nil {
			t.Fatal(err)
		}
		form := client.Form(a, scope)
		if edit != nil {
			edit(form)
		}
		return form
	}
}

func tokenCases(t testing.TB, f *fixture) []tokenCase {
	pubPEM, err := keys.PublicPEM(f.rsKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubJWK := f.clients[rsClientID].JWKS
	none := client.AssertionOptions{}
	bad := func(name string, opts client.AssertionOptions, fault string) tokenCase {
		return tokenCase{name: name, build: withAssertion(rsClientID, "system/*.read", opts, nil),
			status: 400, errorCode: "invalid_client", fault: fault}
	}
	return []tokenCase{
		{name: "good RS384", build: withAssertion(rsClientID, "system/*.read", none, nil), status: 200},
		{name: "good ES384", build: withAssertion(ecClientID, "system/*.read", none, nil), status: 200},
		{name: "good v2 scope system/*.rs", build: withAssertion(ecClientID, "system/*.rs", none, nil), status: 200},
		{name: "good narrower scope", build: withAssertion(rsClientID, "system/Patient.rs system/Group.read", none, nil), status: 200},
		{name: "good registered jku", build: withAssertion(rsClientID, "system/*.read", client.AssertionOptions{JKU: jwksURL}, nil), status: 200},
		{name: "good matching client_id", build: withAssertion(rsClientID, "system/*.read", none, func(v url.Values) { v.Set("client_id", rsClientID) }), status: 200},

		bad("bad signature", client.AssertionOptions{CorruptSignature: true}, "AcceptBadSignature"),
		bad("signed with another key", client.AssertionOptions{SignWith: f.otherRSA}, "AcceptBadSignature"),
		bad("wrong aud", client.AssertionOptions{Audience: "https://elsewhere.example/token"}, "IgnoreAudience"),
		bad("missing exp", client.AssertionOptions{OmitExp: true}, "IgnoreExpiry"),
		bad("expired exp", client.AssertionOptions{ExpiresIn: -2 * time.Minute}, "IgnoreExpiry"),
		bad("exp more than 5 minutes ahead", client.AssertionOptions{ExpiresIn: 10 * time.Minute}, "IgnoreExpiry"),
		{name: "replayed jti", build: withAssertion(rsClientID, "system/*.read", none, nil), useFirst: true,
			status: 400, errorCode: "invalid_client", fault: "AllowReplay"},
		bad("unknown kid", client.AssertionOptions{KeyID: "not-registered"}, "AcceptUnknownKid"),
		bad("missing kid", client.AssertionOptions{OmitKid: true}, "AcceptUnknownKid"),
		bad("unknown client", client.AssertionOptions{Issuer: "nobody", Subject: "nobody"}, ""),
		bad("iss differs from sub", client.AssertionOptions{Subject: ecClientID}, ""),
		bad("missing jti", client.AssertionOptions{OmitJTI: true}, ""),
		bad("alg none", client.AssertionOptions{AlgNone: true}, "TrustHeaderAlg"),
		bad("HS256 keyed with the public key PEM", client.AssertionOptions{HS256Secret: pubPEM}, "TrustHeaderAlg"),
		bad("HS256 keyed with the public JWK set", client.AssertionOptions{HS256Secret: pubJWK}, ""),
		bad("RS256 properly signed", client.AssertionOptions{Alg: "RS256"}, ""),
		bad("PS384 properly signed", client.AssertionOptions{Alg: "PS384"}, ""),
		bad("header claims ES384 over an RS384 signature", client.AssertionOptions{HeaderAlg: "ES384"}, ""),
		bad("typ is not JWT", client.AssertionOptions{Typ: "at+jwt"}, ""),
		bad("unregistered jku", client.AssertionOptions{JKU: "https://attacker.example/jwks.json"}, ""),
		bad("critical header extension", client.AssertionOptions{ExtraHeader: map[string]any{"crit": []string{"exp"}}}, ""),
		bad("nbf in the future", client.AssertionOptions{ExtraClaims: map[string]any{"nbf": f.clock.Now().Add(time.Hour).Unix()}}, ""),
		bad("oversize assertion", client.AssertionOptions{ExtraClaims: map[string]any{"pad": strings.Repeat("x", 17<<10)}}, ""),
		{name: "jku on a client without a registered one",
			build:  withAssertion(ecClientID, "system/*.read", client.AssertionOptions{JKU: jwksURL}, nil),
			status: 400, errorCode: "invalid_client"},
		{name: "client_id differs from iss",
			build:  withAssertion(rsClientID, "system/*.read", none, func(v url.Values) { v.Set("client_id", ecClientID) }),
			status: 400, errorCode: "invalid_client"},
		{name: "malformed assertion",
			build:  withAssertion(rsClientID, "system/*.read", none, func(v url.Values) { v.Set("client_assertion", "not.a.jwt!") }),
			status: 400, errorCode: "invalid_client"},
		{name: "missing assertion",
			build:  withAssertion(rsClientID, "system/*.read", none, func(v url.Values) { v.Del("client_assertion") }),
			status: 400, errorCode: "invalid_client"},
		{name: "wrong grant_type",
			build:  withAssertion(rsClientID, "system/*.read", none, func(v url.Values) { v.Set("grant_type", "password") }),
			status: 400, errorCode: "unsupported_grant_type", fault: "AcceptAnyGrantType"},
		{name: "missing grant_type",
			build:  withAssertion(rsClientID, "system/*.read", none, func(v url.Values) { v.Del("grant_type") }),
			status: 400, errorCode: "invalid_request"},
		{name: "wrong client_assertion_type",
			build: withAssertion(rsClientID, "system/*.read", none, func(v url.Values) {
				v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			}),
			status: 400, errorCode: "invalid_client", fault: "AcceptAnyAssertion"},
		{name: "scope not allowed", build: withAssertion(rsClientID, "system/*.write", none, nil),
			status: 400, errorCode: "invalid_scope"},
		{name: "scope partly not allowed", build: withAssertion(rsClientID, "system/*.read patient/*.read", none, nil),
			status: 400, errorCode: "invalid_scope"},
		{name: "missing scope", build: withAssertion(rsClientID, "", none, nil),
			status: 400, errorCode: "invalid_scope"},
		{name: "repeated parameter",
			build:  withAssertion(rsClientID, "system/*.read", none, func(v url.Values) { v.Add("scope", "system/*.rs") }),
			status: 400, errorCode: "invalid_request"},
		{name: "oversize body",
			build: withAssertion(rsClientID, "system/*.read", none, func(v url.Values) {
				v.Set("padding", strings.Repeat("p", 70<<10))
			}),
			status: 400, errorCode: "invalid_request"},
		{name: "JSON instead of a form", contentType: "application/json",
			rawBody: func(*fixture, string) string { return `{"grant_type":"client_credentials"}` },
			status:  400, errorCode: "invalid_request"},
		{name: "invalid form encoding", contentType: "application/x-www-form-urlencoded",
			rawBody: func(*fixture, string) string { return "grant_type=%zz" },
			status:  400, errorCode: "invalid_request"},
		{name: "GET", method: http.MethodGet, status: 405, errorCode: "invalid_request"},
	}
}

// run performs one case and returns the final response.
func (tc tokenCase) run(t *testing.T, f *fixture, ts *httptest.Server) tokenResult {
	t.Helper()
	tokenURL := ts.URL + "/auth/token"
	hc := ts.Client()
	switch {
	case tc.method == http.MethodGet:
		resp, err := hc.Get(tokenURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("GET answer is not JSON: %v", err)
		}
		return tokenResult{status: resp.StatusCode, header: resp.Header, body: body}
	case tc.rawBody != nil:
		return postBody(t, hc, tokenURL, tc.contentType, tc.rawBody(f, tokenURL))
	}
	form := tc.build(t, f, tokenURL)
	if tc.useFirst {
		if first := postForm(t, hc, tokenURL, form); first.status != 200 {
			t.Fatalf("first use: HTTP %d %s", first.status, first.raw)
		}
	}
	return postForm(t, hc, tokenURL, form)
}

func TestTokenEndpoint(t *testing.T) {
	f := newFixture(t)
	s, ts := f.server(t, nil)
	for _, tc := range tokenCases(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.run(t, f, ts)
			if res.status != tc.status {
				t.Fatalf("HTTP %d, want %d: %s", res.status, tc.status, res.raw)
			}
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tc.status != 200 {
				if res.errorCode() != tc.errorCode {
					t.Errorf("error = %q, want %q (%s)", res.errorCode(), tc.errorCode, res.raw)
				}
				if d, _ := res.body["error_description"].(string); d == "" {
					t.Errorf("no error_description: %s", res.raw)
				}
				if _, ok := res.body["access_token"]; ok {
					t.Errorf("a refusal carries an access_token: %s", res.raw)
				}
				return
			}
			checkIssued(t, s, res)
		})
	}
}

// checkIssued verifies a success body and that its token authenticates.
func checkIssued(t *testing.T, s *Server, res tokenResult) {
	t.Helper()
	if tt, _ := res.body["token_type"].(string); tt != "bearer" {
		t.Errorf("token_type = %q, want bearer", tt)
	}
	if ei, _ := res.body["expires_in"].(float64); ei != 300 {
		t.Errorf("expires_in = %v, want 300", res.body["expires_in"])
	}
	tok, _ := res.body["access_token"].(string)
	scope, _ := res.body["scope"].(string)
	req := httptest.NewRequest(http.MethodGet, "/Group/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	g, err := s.Authenticate(req)
	if err != nil {
		t.Fatalf("the issued token does not authenticate: %v", err)
	}
	if strings.Join(g.Scopes, " ") != scope {
		t.Errorf("grant scopes %q, response scope %q", g.Scopes, scope)
	}
}

// TestFaults shows each fault switch lets through exactly the requests its
// check exists to refuse, and nothing else.
func TestFaults(t *testing.T) {
	f := newFixture(t)
	faults := map[string]Faults{
		"AcceptBadSignature": {AcceptBadSignature: true},
		"IgnoreAudience":     {IgnoreAudience: true},
		"IgnoreExpiry":       {IgnoreExpiry: true},
		"AllowReplay":        {AllowReplay: true},
		"AcceptUnknownKid":   {AcceptUnknownKid: true},
		"AcceptAnyGrantType": {AcceptAnyGrantType: true},
		"AcceptAnyAssertion": {AcceptAnyAssertion: true},
		"TrustHeaderAlg":     {TrustHeaderAlg: true},
	}
	cases := tokenCases(t, f)
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			s, ts := f.server(t, func(o *Options) { o.Faults = fault })
			covered := 0
			for _, tc := range cases {
				res := tc.run(t, f, ts)
				switch {
				case tc.status == 200 || tc.fault == name:
					if tc.fault == name {
						covered++
					}
					if res.status != 200 {
						t.Errorf("%s: HTTP %d %s, want the fault to let it through", tc.name, res.status, res.raw)
						continue
					}
					checkIssued(t, s, res)
				case res.status != tc.status || res.errorCode() != tc.errorCode:
					t.Errorf("%s: HTTP %d %s, want %d %s: the fault must not affect it", tc.name, res.status, res.errorCode(), tc.status, tc.errorCode)
				}
			}
			if covered == 0 {
				t.Errorf("no case exercises fault %s", name)
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	lookup := func(string) (*Client, bool) { return nil, false }
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no token URL", Options{Clients: lookup}},
		{"relative token URL", Options{TokenURL: "/token", Clients: lookup}},
		{"no registry", Options{TokenURL: "https://h/token"}},
		{"short secret", Options{TokenURL: "https://h/token", Clients: lookup, Secret: []byte("short")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Error("New accepted the options")
			}
		})
	}
}

// TestReplayCacheBounded shows the replay cache fails closed when a client
// fills it, and recovers once the remembered assertions have expired.
func TestReplayCacheBounded(t *testing.T) {
	f := newFixture(t)
	_, ts := f.server(t, func(o *Options) { o.ReplayCacheSize = 2 })
	tokenURL := ts.URL + "/auth/token"
	request := func() tokenResult {
		return postForm(t, ts.Client(), tokenURL, withAssertion(rsClientID, "system/*.read", client.AssertionOptions{}, nil)(t, f, tokenURL))
	}
	for i := range 2 {
		if res := request(); res.status != 200 {
			t.Fatalf("request %d: HTTP %d %s", i, res.status, res.raw)
		}
	}
	res := request()
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Fatalf("full cache: HTTP %d (Retry-After %q) %s, want 503 with Retry-After", res.status, res.header.Get("Retry-After"), res.raw)
	}
	// The other client has its own share.
	other := postForm(t, ts.Client(), tokenURL, withAssertion(ecClientID, "system/*.read", client.AssertionOptions{}, nil)(t, f, tokenURL))
	if other.status != 200 {
		t.Fatalf("other client: HTTP %d %s", other.status, other.raw)
	}
	f.clock.Advance(client.DefaultAssertionLifetime + time.Minute)
	if res := request(); res.status != 200 {
		t.Fatalf("after expiry: HTTP %d %s", res.status, res.raw)
	}
}

// TestJWKSURL shows keys are fetched from a registered JWK set URL, and
// cached.
func TestJWKSURL(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	fetches := 0
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.clients[rsClientID].JWKS)
	}))
	defer keys.Close()
	f.clients["url-client"] = &Client{ID: "url-client", JWKSURL: keys.URL, Scopes: []string{"system/*.read"}}
	_, ts := f.server(t, func(o *Options) { o.HTTPClient = keys.Client() })
	tokenURL := ts.URL + "/auth/token"
	creds := client.Credentials{ClientID: "url-client", KeyID: rsKid, Key: f.rsKey, TokenURL: tokenURL, JKU: keys.URL}
	for i := range 2 {
		a, err := creds.Assertion(client.AssertionOptions{Now: f.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if res := postForm(t, ts.Client(), tokenURL, client.Form(a, "system/*.read")); res.status != 200 {
			t.Fatalf("request %d: HTTP %d %s", i, res.status, res.raw)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches != 1 {
		t.Errorf("the JWK set was fetched %d times, want 1 (cached)", fetches)
	}

	// Without fetching enabled the client has no keys at all.
	_, plain := f.server(t, nil)
	plainURL := plain.URL + "/auth/token"
	creds.TokenURL = plainURL
	a, err := creds.Assertion(client.AssertionOptions{Now: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if res := postForm(t, plain.Client(), plainURL, client.Form(a, "system/*.read")); res.status != 400 || res.errorCode() != "invalid_client" {
		t.Errorf("no fetching: HTTP %d %s, want 400 invalid_client", res.status, res.raw)
	}
}

// TestFaultOmitExpiresIn shows the fault changes only the success body:
// the token is issued and works, without expires_in.
func TestFaultOmitExpiresIn(t *testing.T) {
	f := newFixture(t)
	s, ts := f.server(t, func(o *Options) { o.Faults = Faults{OmitExpiresIn: true} })
	build := withAssertion(rsClientID, "system/*.read", client.AssertionOptions{}, nil)
	form := build(t, f, ts.URL+"/auth/token")
	got := postForm(t, ts.Client(), ts.URL+"/auth/token", form)
	if got.status != 200 {
		t.Fatalf("HTTP %d %s, want 200", got.status, got.raw)
	}
	if _, ok := got.body["expires_in"]; ok {
		t.Errorf("expires_in present under OmitExpiresIn: %s", got.raw)
	}
	tok, _ := got.body["access_token"].(string)
	req := httptest.NewRequest(http.MethodGet, "/Group/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := s.Authenticate(req); err != nil {
		t.Errorf("the issued token does not authenticate: %v", err)
	}
}
