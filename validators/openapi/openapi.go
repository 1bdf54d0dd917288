// Package openapi checks HTTP exchanges with a Provider Access server
// against an OpenAPI 3.1 description of the API, embedded in the binary
// (provider-access.yaml). The Checker never sends a request: the harness's
// client hands it every exchange it made and gets back the mismatches.
//
// Status and file URLs are the server's own (Content-Location, manifest),
// and the token endpoint is found through discovery, so the checker does not
// route them by path alone: it learns them from the exchanges it sees (a
// kick-off's Content-Location, a manifest's file URLs, the SMART
// configuration's token_endpoint) and from Learn, and routes a learnt URL to
// the operation the description models at the reference server's paths.
package openapi

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

//go:embed provider-access.yaml
var description []byte

// Kind is the role of a URL the description cannot find by its path.
type Kind string

const (
	// Status is a status URL: the Content-Location of a kick-off.
	Status Kind = "status"
	// File is a file URL of a manifest (output, error or deleted).
	File Kind = "file"
	// Token is the SMART token endpoint.
	Token Kind = "token"
)

// kindPaths are where the description models each kind: the reference
// server's paths.
var kindPaths = map[Kind]string{
	Status: "/jobs/{id}",
	File:   "/files/{id}",
	Token:  "/auth/token",
}

// Operation ids the checker learns from (see provider-access.yaml).
const (
	opKickoffPost = "kickoffPost"
	opKickoffGet  = "kickoffGet"
	opMemberMatch = "providerMemberMatch"
	opStatus      = "status"
	opSmartConfig = "smartConfiguration"
)

// bodyOptional marks a response whose body may be absent; when present it
// must match the content described.
const bodyOptional = "x-pdex-body-optional"

// maxLearned bounds the URLs a checker remembers, so that a run against a
// server that mints URLs without end cannot grow memory without end.
const maxLearned = 1 << 16

// Checker checks exchanges against the description for one target. It is
// safe for concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	// kinds routes learnt URLs: kind → method → the described route.
	kinds map[Kind]map[string]*routers.Route
	// bodyOnly maps each operation to a copy whose responses declare no
	// headers, so that ValidateResponse checks the body even when a header
	// is wrong (it stops at the first header error); headers are checked
	// separately, all of them.
	bodyOnly map[*openapi3.Operation]*openapi3.Operation
	// native is the description as kin-openapi's own schema validator
	// reads it (see nativeSpec).
	native *openapi3.T

	mu      sync.RWMutex
	learned map[string]Kind
}

var registerDecoders sync.Once

// New builds a checker for the server at baseURL (the FHIR base, without a
// trailing slash).
func New(baseURL string) (*Checker, error) {
	base, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("openapi: the base URL %q is not an absolute http(s) URL", baseURL)
	}
	registerDecoders.Do(func() {
		// openapi3filter's decoder registry is the library's global state:
		// registered once, for the media types FHIR servers use.
		openapi3filter.RegisterBodyDecoder("application/fhir+json", openapi3filter.JSONBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/fhir+ndjson", ndjsonDecoder)
		openapi3filter.RegisterBodyDecoder("application/x-www-form-urlencoded", openapi3filter.UrlencodedBodyDecoder)
	})
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(description)
	if err != nil {
		return nil, fmt.Errorf("openapi: loading the embedded description: %w", err)
	}
	// The gorillamux router matches servers by exact scheme and host: the
	// description's placeholder server becomes the target.
	doc.Servers = openapi3.Servers{{URL: base.String()}}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi: the embedded description is invalid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: building the router: %w", err)
	}
	native, err := nativeSpec(doc)
	if err != nil {
		return nil, err
	}
	c := &Checker{
		doc: doc, router: router, native: native,
		kinds:    map[Kind]map[string]*routers.Route{},
		bodyOnly: map[*openapi3.Operation]*openapi3.Operation{},
		learned:  map[string]Kind{},
	}
	for kind, path := range kindPaths {
		item := doc.Paths.Value(path)
		if item == nil {
			return nil, fmt.Errorf("openapi: the description has no path %s for %s URLs", path, kind)
		}
		c.kinds[kind] = map[string]*routers.Route{}
		for method, op := range item.Operations() {
			c.kinds[kind][method] = &routers.Route{
				Spec: doc, Server: doc.Servers[0], Path: path, PathItem: item, Method: method, Operation: op,
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			c.bodyOnly[op] = withoutHeaders(op)
		}
	}
	return c, nil
}

// nativeSpec returns the description for kin-openapi's own schema
// validator. For an OpenAPI 3.1 document kin-openapi compiles a JSON Schema
// 2020-12 validator anew for every body it checks (v0.152), a tenth of a
// run's CPU, and falls back to its own validator for schemas without the
// keywords only 2020-12 knows. This description uses one of them, const,
// which nativeSpec turns into the one-value enum it means, in doc's own
// schemas (the copy returned shares them); any other makes it fail, so
// that no keyword is ever silently left unchecked. The copy differs from
// doc only in its version, which is what selects the validator.
func nativeSpec(doc *openapi3.T) (*openapi3.T, error) {
	var unsupported []string
	seen := map[*openapi3.Schema]bool{}
	visit := func(where string, ref *openapi3.SchemaRef) {
		if ref == nil {
			return
		}
		_ = ref.WalkSubtree(func(_ string, r *openapi3.SchemaRef) error {
			sch := r.Value
			if sch == nil || seen[sch] {
				return nil
			}
			seen[sch] = true
			if sch.Const != nil {
				if len(sch.Enum) == 0 {
					sch.Enum = []any{sch.Const}
				}
				sch.Const = nil
			}
			if only2020(sch) {
				unsupported = append(unsupported, where)
			}
			return nil
		})
	}
	if doc.Components != nil {
		for name, ref := range doc.Components.Schemas {
			visit("components.schemas."+name, ref)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for ct, mt := range resp.Value.Content {
					visit(method+" "+path+" "+status+" "+ct, mt.Schema)
				}
				for name, h := range resp.Value.Headers {
					if h.Value != nil {
						visit(method+" "+path+" "+status+" header "+name, h.Value.Schema)
					}
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					visit(method+" "+path+" request "+ct, mt.Schema)
				}
			}
			for _, p := range op.Parameters {
				if p.Value != nil {
					visit(method+" "+path+" parameter "+p.Value.Name, p.Value.Schema)
				}
			}
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return nil, fmt.Errorf("openapi: the description uses JSON Schema 2020-12 keywords the checker's validator does not check, in %s", strings.Join(unsupported, ", "))
	}
	native := *doc
	native.OpenAPI = "3.0.3"
	return &native, nil
}

// only2020 reports a keyword of JSON Schema 2020-12 that kin-openapi's own
// validator does not check.
func only2020(s *openapi3.Schema) bool {
	return len(s.PrefixItems) != 0 || s.Contains != nil || len(s.PatternProperties) != 0 ||
		len(s.DependentSchemas) != 0 || s.PropertyNames != nil ||
		s.UnevaluatedItems.Has != nil || s.UnevaluatedItems.Schema != nil ||
		s.UnevaluatedProperties.Has != nil || s.UnevaluatedProperties.Schema != nil ||
		s.If != nil || s.Then != nil || s.Else != nil ||
		len(s.DependentRequired) != 0 || len(s.Defs) != 0 || s.ContentSchema != nil ||
		s.Type != nil && len(*s.Type) > 1
}

func withoutHeaders(op *openapi3.Operation) *openapi3.Operation {
	rs := openapi3.NewResponsesWithCapacity(op.Responses.Len())
	for status, ref := range op.Responses.Map() {
		r := *ref.Value
		r.Headers = nil
		rs.Set(status, &openapi3.ResponseRef{Value: &r})
	}
	cp := *op
	cp.Responses = rs
	return &cp
}

// Learn tells the checker that rawURL is a URL of the given kind, e.g. the
// token endpoint the run discovered or was configured with. Relative URLs
// are ignored.
func (c *Checker) Learn(kind Kind, rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() {
		return
	}
	c.learn(kind, u)
}

func (c *Checker) learn(kind Kind, u *url.URL) {
	key := urlKey(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.learned[key]; ok || len(c.learned) < maxLearned {
		c.learned[key] = kind
	}
}

func (c *Checker) learnt(u *url.URL) (Kind, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.learned[urlKey(u)]
	return k, ok
}

// urlKey identifies a URL regardless of fragment and of the case of scheme
// and host. The query is kept: some servers tell jobs apart by it.
func urlKey(u *url.URL) string {
	k := strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.EscapedPath()
	if u.RawQuery != "" {
		k += "?" + u.RawQuery
	}
	return k
}

// route finds the described operation of a request: first among learnt
// URLs, then by path. The label names the operation in messages.
func (c *Checker) route(req *http.Request) (route *routers.Route, params map[string]string, label string) {
	if kind, ok := c.learnt(req.URL); ok {
		r := c.kinds[kind][req.Method]
		if r == nil {
			return nil, nil, ""
		}
		cp := *r
		seg := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
		return &cp, map[string]string{"id": seg}, req.Method + " " + string(kind) + " URL"
	}
	r, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, nil, ""
	}
	// Status, file and token operations are named by role: their paths are
	// only the reference server's.
	for kind, path := range kindPaths {
		if r.Path == path {
			return r, params, req.Method + " " + string(kind) + " URL"
		}
	}
	return r, params, req.Method + " " + r.Path
}

// Check checks one exchange and returns its mismatches with the
// description, as short sentences. It judges the response only: the harness
// sends deliberately wrong requests (no token, no Prefer, unsupported
// parameters) to see how the server refuses them, so a request outside the
// description says nothing about the server. A request to no described
// operation is one mismatch, "not described". Check also learns status,
// file and token URLs from what the exchange shows.
func (c *Checker) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string {
	route, params, label := c.route(req)
	if route == nil {
		return []string{fmt.Sprintf("%s %s: not described", req.Method, req.URL.Path)}
	}
	out := c.checkResponse(route, params, label, req, resp, respBody)
	c.learnFrom(route.Operation.OperationID, req, resp, respBody)
	return scrub(out, req, reqBody, respBody)
}

// CheckHead checks an exchange whose body was streamed to disk rather than
// read (an export file): its status, headers and content type, not its
// body.
func (c *Checker) CheckHead(req *http.Request, resp *http.Response) []string {
	route, _, label := c.route(req)
	if route == nil {
		return []string{fmt.Sprintf("%s %s: not described", req.Method, req.URL.Path)}
	}
	prefix := fmt.Sprintf("response %d of %s: ", resp.StatusCode, label)
	ref := route.Operation.Responses.Status(resp.StatusCode)
	if ref == nil || ref.Value == nil {
		return scrub([]string{prefix + "status not described (described: " + strings.Join(statuses(route.Operation), ", ") + ")"}, req, nil, nil)
	}
	described := ref.Value
	var out []string
	for _, m := range checkHeaders(described, resp.Header) {
		out = append(out, prefix+m)
	}
	if ct := resp.Header.Get("Content-Type"); len(described.Content) > 0 && described.Content.Get(ct) == nil {
		if ct == "" {
			out = append(out, prefix+"Content-Type is missing (want "+strings.Join(mediaTypes(described.Content), " or ")+")")
		} else {
			out = append(out, fmt.Sprintf("%scontent type %q not described (want %s)", prefix, ct, strings.Join(mediaTypes(described.Content), " or ")))
		}
	}
	return scrub(out, req, nil, nil)
}

func (c *Checker) checkResponse(route *routers.Route, params map[string]string, label string, req *http.Request, resp *http.Response, body []byte) []string {
	prefix := fmt.Sprintf("response %d of %s: ", resp.StatusCode, label)
	ref := route.Operation.Responses.Status(resp.StatusCode)
	if ref == nil || ref.Value == nil {
		return []string{prefix + "status not described (described: " + strings.Join(statuses(route.Operation), ", ") + ")"}
	}
	described := ref.Value
	var out []string
	for _, m := range checkHeaders(described, resp.Header) {
		out = append(out, prefix+m)
	}
	if len(described.Content) == 0 {
		return out
	}
	if len(body) == 0 {
		if optional, _ := described.Extensions[bodyOptional].(bool); optional {
			return out
		}
		return append(out, prefix+"the body is missing (want "+strings.Join(mediaTypes(described.Content), " or ")+")")
	}
	ct := resp.Header.Get("Content-Type")
	if described.Content.Get(ct) == nil {
		if ct == "" {
			return append(out, prefix+"Content-Type is missing (want "+strings.Join(mediaTypes(described.Content), " or ")+")")
		}
		return append(out, fmt.Sprintf("%scontent type %q not described (want %s)", prefix, ct, strings.Join(mediaTypes(described.Content), " or ")))
	}
	bodyRoute := *route
	bodyRoute.Operation = c.bodyOnly[route.Operation]
	bodyRoute.Spec = c.native
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: &bodyRoute},
		Status:                 resp.StatusCode,
		Header:                 http.Header{"Content-Type": {ct}},
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		for _, m := range describe(err) {
			out = append(out, prefix+m)
		}
	}
	return out
}

// checkHeaders checks every header the response describes: present when
// required, matching its schema when present.
func checkHeaders(r *openapi3.Response, h http.Header) []string {
	names := make([]string, 0, len(r.Headers))
	for name := range r.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		hd := r.Headers[name].Value
		vals := h.Values(name)
		if len(vals) == 0 {
			if hd.Required {
				out = append(out, "header "+name+" is required")
			}
			continue
		}
		if hd.Schema == nil || hd.Schema.Value == nil {
			continue
		}
		if err := hd.Schema.Value.VisitJSON(strings.Join(vals, ", "), openapi3.MultiErrors()); err != nil {
			out = append(out, fmt.Sprintf("header %s %q: %s", name, clip(strings.Join(vals, ", "), 80), strings.Join(schemaReasons(err), "; ")))
		}
	}
	return out
}

// learnFrom remembers the status URL a kick-off gives, the file URLs a
// manifest lists and the token endpoint the SMART configuration names.
func (c *Checker) learnFrom(opID string, req *http.Request, resp *http.Response, body []byte) {
	switch {
	case (opID == opKickoffPost || opID == opKickoffGet || opID == opMemberMatch) && resp.StatusCode == http.StatusAccepted:
		if u, ok := resolve(req.URL, resp.Header.Get("Content-Location")); ok {
			c.learn(Status, u)
		}
	case opID == opStatus && resp.StatusCode == http.StatusOK:
		for _, raw := range manifestURLs(body) {
			if u, ok := resolve(req.URL, raw); ok {
				c.learn(File, u)
			}
		}
	case opID == opSmartConfig && resp.StatusCode == http.StatusOK:
		if u, ok := resolve(req.URL, tokenEndpoint(body)); ok {
			c.learn(Token, u)
		}
	}
}

// resolve reads a URL a server gave, relative ones against the request's
// (they are mismatches of their own, but the harness still follows them).
func resolve(base *url.URL, raw string) (*url.URL, bool) {
	if raw == "" {
		return nil, false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, false
	}
	return base.ResolveReference(u), true
}

// CheckRequest checks a request against the description: its parameters,
// headers, body and bearer token. Check does not use it (see there); it
// keeps the request side of the description honest against the harness's
// real requests in tests.
func (c *Checker) CheckRequest(req *http.Request, body []byte) []string {
	route, params, label := c.route(req)
	if route == nil {
		return []string{fmt.Sprintf("%s %s: not described", req.Method, req.URL.Path)}
	}
	r := req.Clone(req.Context())
	r.Body = http.NoBody
	if body != nil {
		r.Body = readCloser(body)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: bearerPresent},
	}
	err := openapi3filter.ValidateRequest(req.Context(), in)
	if err == nil {
		return nil
	}
	var out []string
	for _, m := range describe(err) {
		out = append(out, "request "+label+": "+m)
	}
	return scrub(out, req, body, nil)
}

// bearerPresent checks the only security scheme of the description: an
// Authorization header with a bearer token. Whether the token is good is
// the server's to say.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" {
		return fmt.Errorf("security scheme %s is not checked", in.SecuritySchemeName)
	}
	scheme, tok, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

func statuses(op *openapi3.Operation) []string {
	var s []string
	for k := range op.Responses.Map() {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func mediaTypes(c openapi3.Content) []string {
	var s []string
	for k := range c {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
