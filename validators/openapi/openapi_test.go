package openapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
)

const base = "http://payer.test:8080/fhir"

// exchange is one request and response for the checker.
type exchange struct {
	method, url string
	status      int
	header      http.Header
	body        string
}

func (x exchange) check(c *Checker) []string {
	req, err := http.NewRequest(x.method, x.url, nil)
	if err != nil {
		panic(err)
	}
	h := x.header
	if h == nil {
		h = http.Header{}
	}
	return c.Check(req, nil, &http.Response{StatusCode: x.status, Header: h}, []byte(x.body))
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

const (
	fhirJSON = "application/fhir+json"
	outcome  = `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"no"}]}`
	manifest = `{"transactionTime":"2026-01-02T03:04:05.123Z","request":"` + base + `/Group/g1/$davinci-data-export",` +
		`"requiresAccessToken":true,"output":[{"type":"Patient","url":"` + base + `/files/f1","count":2}],"error":[]}`
	kickoff = base + "/Group/g1/$davinci-data-export"
)

func TestAPIDescriptionLoads(t *testing.T) {
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	if !c.doc.IsOpenAPI31OrLater() {
		t.Errorf("the description is OpenAPI %s, want 3.1", c.doc.OpenAPI)
	}
	want := map[string][]string{
		"/metadata":                        {"GET"},
		"/.well-known/smart-configuration": {"GET"},
		"/auth/token":                      {"POST"},
		"/Group":                           {"GET"},
		"/Group/{id}":                      {"GET"},
		"/Group/{id}/$davinci-data-export": {"GET", "POST"},
		"/{type}/{id}":                     {"GET"},
		"/jobs/{id}":                       {"DELETE", "GET"},
		"/files/{id}":                      {"GET"},
	}
	for path, methods := range want {
		item := c.doc.Paths.Value(path)
		if item == nil {
			t.Errorf("no path %s", path)
			continue
		}
		var got []string
		for m := range item.Operations() {
			got = append(got, m)
		}
		slices.Sort(got)
		if !slices.Equal(got, methods) {
			t.Errorf("%s has operations %v, want %v", path, got, methods)
		}
	}
	if _, err := New("payer.test/fhir"); err == nil {
		t.Error("New accepted a base URL without scheme")
	}
}

func TestAPICheck(t *testing.T) {
	tests := []struct {
		name string
		x    exchange
		want []string
	}{
		// Valid exchanges, one per described response the reference gives.
		{"metadata", exchange{"GET", base + "/metadata", 200, hdr("Content-Type", fhirJSON),
			`{"resourceType":"CapabilityStatement","status":"active","date":"2026-01-01","kind":"instance","fhirVersion":"4.0.1","format":["application/fhir+json"],` +
				`"rest":[{"mode":"server","resource":[{"type":"Group","interaction":[{"code":"read"}],"operation":[{"name":"davinci-data-export","definition":"http://x"}]}]}]}`}, nil},
		{"smart configuration", exchange{"GET", base + "/.well-known/smart-configuration", 200, hdr("Content-Type", "application/json"),
			`{"token_endpoint":"` + base + `/auth/token","grant_types_supported":["client_credentials"],"capabilities":["client-confidential-asymmetric"]}`}, nil},
		{"token", exchange{"POST", base + "/auth/token", 200, hdr("Content-Type", "application/json", "Cache-Control", "no-store"),
			`{"access_token":"abc.def.ghi","token_type":"bearer","expires_in":300,"scope":"system/*.read"}`}, nil},
		{"token refused", exchange{"POST", base + "/auth/token", 400, hdr("Content-Type", "application/json"),
			`{"error":"invalid_client","error_description":"bad signature"}`}, nil},
		{"Group read", exchange{"GET", base + "/Group/g1", 200, hdr("Content-Type", fhirJSON),
			`{"resourceType":"Group","id":"g1","type":"person","actual":true,"member":[{"entity":{"reference":"Patient/p1"}}]}`}, nil},
		{"Group search", exchange{"GET", base + "/Group?identifier=x%7C1", 200, hdr("Content-Type", fhirJSON+"; charset=utf-8"),
			`{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"fullUrl":"x","resource":{"resourceType":"Group","id":"g1"},"search":{"mode":"match"}}]}`}, nil},
		{"resource read", exchange{"GET", base + "/Patient/p1", 200, hdr("Content-Type", "application/json"), `{"resourceType":"Patient","id":"p1"}`}, nil},
		{"unauthorized", exchange{"GET", base + "/Group/g1", 401, hdr("Content-Type", fhirJSON, "WWW-Authenticate", `Bearer error="invalid_token"`), outcome}, nil},
		{"kick-off accepted", exchange{"POST", kickoff, 202, hdr("Content-Type", fhirJSON, "Content-Location", base+"/jobs/j1"),
			`{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}`}, nil},
		{"kick-off accepted without body", exchange{"GET", kickoff + "?exportType=x", 202, hdr("Content-Location", base+"/jobs/j1"), ""}, nil},
		{"kick-off throttled", exchange{"POST", kickoff, 429, hdr("Content-Type", fhirJSON, "Retry-After", "2"), outcome}, nil},
		{"kick-off refused", exchange{"POST", kickoff, 400, hdr("Content-Type", fhirJSON), outcome}, nil},
		{"status in progress", exchange{"GET", base + "/jobs/j1", 202, hdr("X-Progress", "exporting Patient (1 of 3 types)", "Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"), ""}, nil},
		{"status complete", exchange{"GET", base + "/jobs/j1", 200, hdr("Content-Type", "application/json", "Expires", "Wed, 21 Oct 2026 07:28:00 GMT"), manifest}, nil},
		{"status failed", exchange{"GET", base + "/jobs/j1", 500, hdr("Content-Type", fhirJSON), outcome}, nil},
		{"status after cancel", exchange{"GET", base + "/jobs/j1", 404, hdr("Content-Type", fhirJSON), outcome}, nil},
		{"cancel", exchange{"DELETE", base + "/jobs/j1", 202, nil, ""}, nil},
		{"file", exchange{"GET", base + "/files/f1", 200, hdr("Content-Type", "application/fhir+ndjson"),
			"{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n\n{\"resourceType\":\"Patient\",\"id\":\"p2\"}\n"}, nil},

		// Broken exchanges, one thing wrong each.
		{"kick-off without Content-Location", exchange{"POST", kickoff, 202, hdr("Content-Type", fhirJSON), outcome},
			[]string{"response 202 of POST /Group/{id}/$davinci-data-export: header Content-Location is required"}},
		{"kick-off with a relative Content-Location", exchange{"POST", kickoff, 202, hdr("Content-Location", "/jobs/j1"), ""},
			[]string{`response 202 of POST /Group/{id}/$davinci-data-export: header Content-Location "/jobs/j1": '/jobs/j1' does not match pattern '^https?://[^\s/]+'`}},
		{"kick-off answered synchronously", exchange{"POST", kickoff, 200, hdr("Content-Type", fhirJSON), `{"resourceType":"Bundle"}`},
			[]string{"response 200 of POST /Group/{id}/$davinci-data-export: status not described (described: 202, 401, 429, 4XX, 5XX)"}},
		{"manifest without transactionTime", exchange{"GET", base + "/jobs/j1", 200, hdr("Content-Type", "application/json"),
			strings.Replace(manifest, `"transactionTime":"2026-01-02T03:04:05.123Z",`, "", 1)},
			[]string{`response 200 of GET status URL: body: missing property 'transactionTime'`}},
		{"manifest with a relative file URL", exchange{"GET", base + "/jobs/j1", 200, hdr("Content-Type", "application/json"),
			strings.Replace(manifest, base+"/files/f1", "/files/f1", 1)},
			[]string{`response 200 of GET status URL: body /output/0/url: '/files/f1' does not match pattern '^https?://[^\s/]+'`}},
		{"manifest served as text", exchange{"GET", base + "/jobs/j1", 200, hdr("Content-Type", "text/plain"), manifest},
			[]string{`response 200 of GET status URL: content type "text/plain" not described (want application/json)`}},
		{"manifest with a bad Expires", exchange{"GET", base + "/jobs/j1", 200, hdr("Content-Type", "application/json", "Expires", "tomorrow"), manifest},
			[]string{`response 200 of GET status URL: header Expires "tomorrow": 'tomorrow' does not match pattern '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$'`}},
		{"status with a bad Retry-After", exchange{"GET", base + "/jobs/j1", 202, hdr("Retry-After", "soon"), ""},
			[]string{`response 202 of GET status URL: header Retry-After "soon": doesn't match any schema from "anyOf"`}},
		{"status with a long X-Progress", exchange{"GET", base + "/jobs/j1", 202, hdr("X-Progress", strings.Repeat("x", 100)), ""},
			[]string{`response 202 of GET status URL: header X-Progress "` + strings.Repeat("x", 80) + `…": maximum string length is 99`}},
		{"file with the wrong content type", exchange{"GET", base + "/files/f1", 200, hdr("Content-Type", "application/json"), `{"resourceType":"Patient"}`},
			[]string{`response 200 of GET file URL: content type "application/json" not described (want application/fhir+ndjson)`}},
		{"file with a line that is not JSON", exchange{"GET", base + "/files/f1", 200, hdr("Content-Type", "application/fhir+ndjson"), "{\"resourceType\":\"Patient\"}\n{oops\n"},
			[]string{"response 200 of GET file URL: the body could not be read as its content type says: line 2 is not JSON: invalid character 'o' looking for beginning of object key string"}},
		{"file with a line that is no resource", exchange{"GET", base + "/files/f1", 200, hdr("Content-Type", "application/fhir+ndjson"), "{\"resourceType\":\"Patient\"}\n{\"id\":\"x\"}\n"},
			[]string{`response 200 of GET file URL: body /1: missing property 'resourceType'`}},
		{"400 as plain text", exchange{"POST", kickoff, 400, hdr("Content-Type", "text/plain"), "export refused\n"},
			[]string{`response 400 of POST /Group/{id}/$davinci-data-export: content type "text/plain" not described (want application/fhir+json or application/json)`}},
		{"400 without a body", exchange{"POST", kickoff, 400, nil, ""},
			[]string{"response 400 of POST /Group/{id}/$davinci-data-export: the body is missing (want application/fhir+json or application/json)"}},
		{"400 with a resource that is no OperationOutcome", exchange{"POST", kickoff, 400, hdr("Content-Type", fhirJSON), `{"resourceType":"Parameters"}`},
			[]string{
				"response 400 of POST /Group/{id}/$davinci-data-export: body /resourceType: value must be 'OperationOutcome'",
				"response 400 of POST /Group/{id}/$davinci-data-export: body: missing property 'issue'",
			}},
		{"OperationOutcome without issues", exchange{"GET", base + "/Group/nope", 404, hdr("Content-Type", fhirJSON), `{"resourceType":"OperationOutcome","issue":[]}`},
			[]string{"response 404 of GET /Group/{id}: body /issue: minimum number of items is 1"}},
		{"401 without a challenge", exchange{"GET", base + "/Group/g1", 401, hdr("Content-Type", fhirJSON), outcome},
			[]string{"response 401 of GET /Group/{id}: header WWW-Authenticate is required"}},
		{"token response without access_token", exchange{"POST", base + "/auth/token", 200, hdr("Content-Type", "application/json", "Cache-Control", "no-store"),
			`{"token_type":"bearer","expires_in":300,"scope":"system/*.read"}`},
			[]string{"response 200 of POST token URL: body: missing property 'access_token'"}},
		{"token response cacheable", exchange{"POST", base + "/auth/token", 200, hdr("Content-Type", "application/json"),
			`{"access_token":"abc.def.ghi","token_type":"bearer","expires_in":300,"scope":"system/*.read"}`},
			[]string{"response 200 of POST token URL: header Cache-Control is required"}},
		{"token error without error", exchange{"POST", base + "/auth/token", 401, hdr("Content-Type", "application/json"), `{"error_description":"no"}`},
			[]string{"response 401 of POST token URL: body: missing property 'error'"}},
		{"metadata that is no CapabilityStatement", exchange{"GET", base + "/metadata", 200, hdr("Content-Type", fhirJSON),
			`{"resourceType":"CapabilityStatement","status":"active","date":"2026","kind":"instance","fhirVersion":"3.0.2","format":["json"]}`},
			[]string{`response 200 of GET /metadata: body /fhirVersion: '3.0.2' does not match pattern '^4\.0\.'`}},
		{"Group that is no Group", exchange{"GET", base + "/Group/g1", 200, hdr("Content-Type", fhirJSON), `{"resourceType":"Group","type":"people","actual":true}`},
			[]string{"response 200 of GET /Group/{id}: body /type: value must be one of 'person', 'animal', 'practitioner', 'device', 'medication', 'substance'"}},
		{"smart configuration without token_endpoint", exchange{"GET", base + "/.well-known/smart-configuration", 200, hdr("Content-Type", "application/json"),
			`{"grant_types_supported":["client_credentials"],"capabilities":[]}`},
			[]string{`response 200 of GET /.well-known/smart-configuration: body: missing property 'token_endpoint'`}},
		{"path not described", exchange{"GET", base + "/Patient/p1/$everything", 200, hdr("Content-Type", fhirJSON), `{}`},
			[]string{"GET /fhir/Patient/p1/$everything: not described"}},
		{"method not described", exchange{"PUT", base + "/Group/g1", 200, hdr("Content-Type", fhirJSON), `{}`},
			[]string{"PUT /fhir/Group/g1: not described"}},
		{"another host", exchange{"GET", "http://elsewhere.test/fhir/metadata", 200, hdr("Content-Type", fhirJSON), `{}`},
			[]string{"GET /fhir/metadata: not described"}},
	}
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.x.check(c)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestAPIRouting shows that status, file and token URLs are routed by what
// the run learnt, whatever their paths.
func TestAPIRouting(t *testing.T) {
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	statusURL := base + "/$export-poll-status?_jobId=42"
	fileURL := "https://bucket.example/exports/42/Patient.ndjson?sig=abc"
	tokenURL := "https://login.example/oauth2/token"
	poll := exchange{"GET", statusURL, 200, hdr("Content-Type", "application/json"), strings.Replace(manifest, base+"/files/f1", fileURL, 1)}
	file := exchange{"GET", fileURL, 200, hdr("Content-Type", "application/fhir+ndjson"), `{"resourceType":"Patient"}`}
	token := exchange{"POST", tokenURL, 200, hdr("Content-Type", "application/json", "Cache-Control", "no-store"),
		`{"access_token":"abc.def.ghi","token_type":"Bearer","expires_in":300,"scope":"system/*.read"}`}

	steps := []struct {
		name string
		x    exchange
		want []string
	}{
		{"status URL before the kick-off", poll, []string{"GET /fhir/$export-poll-status: not described"}},
		{"kick-off", exchange{"POST", kickoff, 202, hdr("Content-Location", statusURL), ""}, nil},
		{"file URL before the manifest", file, []string{"GET /exports/42/Patient.ndjson: not described"}},
		{"status URL", poll, nil},
		{"another job's status URL", exchange{"GET", base + "/$export-poll-status?_jobId=43", 202, nil, ""}, []string{"GET /fhir/$export-poll-status: not described"}},
		{"cancel", exchange{"DELETE", statusURL, 202, nil, ""}, nil},
		{"file URL from the manifest", file, nil},
		{"file URL with a broken body", exchange{"GET", fileURL, 200, hdr("Content-Type", "application/fhir+ndjson"), `{"id":"x"}`},
			[]string{`response 200 of GET file URL: body /0: missing property 'resourceType'`}},
		{"DELETE on a file URL", exchange{"DELETE", fileURL, 202, nil, ""}, []string{"DELETE /exports/42/Patient.ndjson: not described"}},
		{"token endpoint before discovery", token, []string{"POST /oauth2/token: not described"}},
		{"discovery", exchange{"GET", base + "/.well-known/smart-configuration", 200, hdr("Content-Type", "application/json"),
			`{"token_endpoint":"` + tokenURL + `","grant_types_supported":["client_credentials"],"capabilities":[]}`}, nil},
		{"token endpoint after discovery", token, nil},
	}
	for _, s := range steps {
		if got := s.x.check(c); !slices.Equal(got, s.want) {
			t.Errorf("%s: got %q, want %q", s.name, got, s.want)
		}
	}

	// Learn is how the runner passes the token URL it was configured with.
	other := "https://auth.example/token"
	x := token
	x.url = other
	if got := x.check(c); len(got) != 1 {
		t.Fatalf("an unknown token URL: got %q, want one mismatch", got)
	}
	c.Learn(Token, other)
	if got := x.check(c); got != nil {
		t.Errorf("a learnt token URL: got %q", got)
	}
	c.Learn(File, "/exports/43/Patient.ndjson")
	if got := (exchange{"GET", base + "/exports/43/Patient.ndjson", 200, nil, ""}).check(c); len(got) != 1 || !strings.HasSuffix(got[0], "not described") {
		t.Errorf("a relative URL was learnt: %q", got)
	}
}

// TestAPIRequests keeps the request side of the description honest against
// the requests the harness really builds.
func TestAPIRequests(t *testing.T) {
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	kick := bulk.Parameters([]bulk.Param{
		{Name: "exportType", Type: "valueCanonical", Value: "hl7.fhir.us.davinci-pdex"},
		{Name: "exportMode", Type: "valueCode", Value: "snapshot"},
		{Name: "patient", Type: "valueReference", Value: "Patient/p1"},
		{Name: "_since", Type: "valueInstant", Value: "2026-01-01T00:00:00Z"},
	})
	good := smart.Form("eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln", "system/*.read").Encode()
	bad := url.Values{"grant_type": {"password"}, "client_assertion": {"eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln"}}.Encode()
	tests := []struct {
		name, method, url string
		header            http.Header
		body              string
		want              []string
	}{
		{"kick-off", "POST", kickoff, hdr("Content-Type", fhirJSON, "Prefer", "respond-async", "Authorization", "Bearer t0k3n-value"), string(kick), nil},
		{"kick-off by GET", "GET", kickoff + "?exportType=x&patient=Patient/a&patient=Patient/b&_since=2026-01-01T00:00:00Z", hdr("Prefer", "respond-async", "Authorization", "Bearer t0k3n-value"), "", nil},
		{"kick-off without Prefer", "POST", kickoff, hdr("Content-Type", fhirJSON, "Authorization", "Bearer t0k3n-value"), string(kick),
			[]string{"request POST /Group/{id}/$davinci-data-export: header parameter Prefer: value is required but missing"}},
		{"kick-off without a token", "POST", kickoff, hdr("Content-Type", fhirJSON, "Prefer", "respond-async"), string(kick),
			[]string{"request POST /Group/{id}/$davinci-data-export: no bearer token, which the description requires"}},
		{"kick-off with a reference as a string", "POST", kickoff, hdr("Content-Type", fhirJSON, "Prefer", "respond-async", "Authorization", "Bearer t0k3n-value"),
			strings.Replace(string(kick), `{"reference":"Patient/p1"}`, `"Patient/p1"`, 1),
			[]string{"request POST /Group/{id}/$davinci-data-export: body /parameter/2/valueReference: value must be an object"}},
		{"token", "POST", base + "/auth/token", hdr("Content-Type", "application/x-www-form-urlencoded"), good, nil},
		{"token with the wrong grant", "POST", base + "/auth/token", hdr("Content-Type", "application/x-www-form-urlencoded"), bad, []string{
			"request POST token URL: body /grant_type: value must be 'client_credentials'",
			"request POST token URL: body: missing property 'client_assertion_type'",
		}},
		{"metadata needs no token", "GET", base + "/metadata", nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			req, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			if req.Header == nil {
				req.Header = http.Header{}
			}
			got := c.CheckRequest(req, body)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			for _, m := range got {
				if strings.Contains(m, "eyJ") || strings.Contains(m, "t0k3n") {
					t.Errorf("a secret leaked into %q", m)
				}
			}
		})
	}
}

func TestAPIScrub(t *testing.T) {
	req, _ := http.NewRequest("POST", base+"/auth/token", nil)
	req.Header.Set("Authorization", "Bearer sent-token-1234")
	got := scrub([]string{
		"a sent-token-1234 b",
		"assertion secret-assertion-value here",
		`token "received-token-5678"`,
		"jwt eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl end",
	}, req, []byte("client_assertion=secret-assertion-value&grant_type=x"), []byte(`{"access_token":"received-token-5678"}`))
	want := []string{"a [REDACTED] b", "assertion [REDACTED] here", `token "[REDACTED]"`, "jwt [REDACTED] end"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestAPICheckConcurrent runs checks and learning from many goroutines, as
// the harness's parallel downloads do (run it with -race).
func TestAPICheckConcurrent(t *testing.T) {
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				status := fmt.Sprintf("%s/poll/%d-%d", base, g, i)
				if got := (exchange{"POST", kickoff, 202, hdr("Content-Location", status), ""}).check(c); got != nil {
					errs <- fmt.Sprint(got)
				}
				if got := (exchange{"GET", status, 200, hdr("Content-Type", "application/json"), manifest}).check(c); got != nil {
					errs <- fmt.Sprint(got)
				}
				if got := (exchange{"GET", status, 200, hdr("Content-Type", "text/plain"), manifest}).check(c); len(got) != 1 {
					errs <- fmt.Sprint("want one mismatch, got ", got)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestAPICheckHead checks streamed file downloads by their status, headers
// and content type alone.
func TestAPICheckHead(t *testing.T) {
	c, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		status int
		header http.Header
		want   int // mismatches
		text   string
	}{
		{"ndjson file", 200, hdr("Content-Type", "application/fhir+ndjson"), 0, ""},
		{"wrong content type", 200, hdr("Content-Type", "application/json"), 1, `content type "application/json" not described`},
		{"no content type", 200, http.Header{}, 1, "Content-Type is missing"},
		{"undescribed status", 302, hdr("Location", "/elsewhere"), 1, "status not described"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/files/f1", nil)
			got := c.CheckHead(req, &http.Response{StatusCode: tt.status, Header: tt.header})
			if len(got) != tt.want || (tt.text != "" && !strings.Contains(strings.Join(got, "\n"), tt.text)) {
				t.Errorf("got %q, want %d mismatch(es) mentioning %q", got, tt.want, tt.text)
			}
		})
	}
}

// TestNativeSpecRefusesUncheckedKeywords: a JSON Schema 2020-12 keyword
// the checker's validator does not check stops the checker from being
// built, rather than being skipped in every check.
func TestNativeSpecRefusesUncheckedKeywords(t *testing.T) {
	const doc = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /x:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  a: {const: b}
                  c: {type: array, prefixItems: [{type: string}]}
`
	d, err := openapi3.NewLoader().LoadFromData([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = nativeSpec(d)
	if err == nil || !strings.Contains(err.Error(), "GET /x 200 application/json") {
		t.Fatalf("nativeSpec = %v, want an error naming where prefixItems is", err)
	}
	if strings.Contains(err.Error(), "const") {
		t.Errorf("const is checked (as a one-value enum), yet named: %v", err)
	}
}
