// Package bulk is the harness's FHIR Bulk Data client: kick-off by POST or
// GET, status polling that honours Retry-After and 429, streaming downloads
// to temporary files, and DELETE. Every exchange is recorded as evidence
// with its secrets redacted.
package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pdex-conform/pdex-conform/runner/evidence"
)

// Authorizer supplies bearer tokens.
type Authorizer interface {
	Token(ctx context.Context) (string, error)
	// Invalidate drops a token the server refused, so the next call gets a
	// new one.
	Invalidate()
}

// StaticToken is a fixed bearer token.
type StaticToken string

func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }
func (t StaticToken) Invalidate()                           {}

// Client talks to one FHIR server.
type Client struct {
	// Base is the FHIR base URL without a trailing slash.
	Base string
	HTTP *http.Client
	// Auth, when set, authorizes requests; nil sends none.
	Auth Authorizer
	// Record receives every exchange; nil records nothing.
	Record func(evidence.Exchange)
	// Check, when set, checks an exchange against the API description and
	// returns mismatches, stored in the exchange.
	Check func(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string
	// MaxBody bounds bodies read into memory (not downloads); 0 = 16 MiB.
	MaxBody int64
	// Progress, when set, hears of long work.
	Progress func(format string, args ...any)
}

// Response is a response with its body read.
type Response struct {
	*http.Response
	Body []byte
}

func (c *Client) maxBody() int64 {
	if c.MaxBody > 0 {
		return c.MaxBody
	}
	return 16 << 20
}

func (c *Client) progress(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(format, args...)
	}
}

// URL resolves a path against the base.
func (c *Client) URL(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return c.Base + "/" + strings.TrimLeft(path, "/")
}

// Request describes one exchange.
type Request struct {
	Method  string
	URL     string // absolute, or a path under Base
	Header  http.Header
	Body    []byte
	NoAuth  bool   // send no token even when Auth is set
	Token   string // send this token instead of Auth's
	NoRetry bool   // do not retry once with a fresh token after a 401
}

// Do sends a request, reads the body (bounded), records the exchange and
// returns the response. A 401 with a token from Auth is retried once with a
// renewed token.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	resp, err := c.do(ctx, r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && c.Auth != nil && !r.NoAuth && r.Token == "" && !r.NoRetry {
		c.Auth.Invalidate()
		return c.do(ctx, r)
	}
	return resp, err
}

func (c *Client) do(ctx context.Context, r Request) (*Response, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	ex := evidence.Exchange{
		Method: req.Method, URL: evidence.RedactURL(req.URL.String()),
		RequestHeaders: evidence.RedactHeaders(req.Header),
		RequestBody:    evidence.Preview(r.Body),
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		ex.Duration, ex.Error = time.Since(start), err.Error()
		c.record(ex)
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody()+1))
	ex.Status, ex.ResponseHeaders = resp.StatusCode, evidence.RedactHeaders(resp.Header)
	ex.ResponseBody, ex.Duration = evidence.Preview(body), time.Since(start)
	if err != nil {
		ex.Error = "reading the body: " + err.Error()
		c.record(ex)
		return nil, fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL, err)
	}
	if int64(len(body)) > c.maxBody() {
		ex.Error = fmt.Sprintf("body larger than %d bytes", c.maxBody())
		c.record(ex)
		return nil, fmt.Errorf("%s %s: the body is larger than %d bytes", req.Method, req.URL, c.maxBody())
	}
	if c.Check != nil {
		ex.Conformance = c.Check(req, r.Body, resp, body)
	}
	c.record(ex)
	return &Response{Response: resp, Body: body}, nil
}

func (c *Client) record(ex evidence.Exchange) {
	if c.Record != nil {
		c.Record(ex)
	}
}

func (c *Client) newRequest(ctx context.Context, r Request) (*http.Request, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.URL(r.URL), body)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", r.Method, r.URL, err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/fhir+json")
	}
	switch {
	case r.Token != "":
		req.Header.Set("Authorization", "Bearer "+r.Token)
	case c.Auth != nil && !r.NoAuth:
		tok, err := c.Auth.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting an access token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// Param is one operation parameter.
type Param struct {
	Name string
	// Value[x] type for the Parameters body: "valueString", "valueCode",
	// "valueCanonical", "valueInstant", "valueReference" (Value is then the
	// reference string).
	Type  string
	Value string
}

// Parameters builds a FHIR Parameters body.
func Parameters(ps []Param) []byte {
	var list []any
	for _, p := range ps {
		var v any = p.Value
		if p.Type == "valueReference" {
			v = map[string]string{"reference": p.Value}
		}
		list = append(list, map[string]any{"name": p.Name, p.Type: v})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": list})
	return b
}

// Kickoff describes an export kick-off.
type Kickoff struct {
	Group  string
	Method string // POST (default) or GET
	Params []Param
	// Prefer is the Prefer header; "" means "respond-async". Use "-" to send
	// none.
	Prefer string
	// Operation defaults to $davinci-data-export.
	Operation string
}

// StartExport sends a kick-off.
func (c *Client) StartExport(ctx context.Context, k Kickoff) (*Response, error) {
	op := k.Operation
	if op == "" {
		op = "$davinci-data-export"
	}
	r := Request{Method: k.Method, URL: "Group/" + url.PathEscape(k.Group) + "/" + op, Header: http.Header{}}
	switch k.Prefer {
	case "":
		r.Header.Set("Prefer", "respond-async")
	case "-":
	default:
		r.Header.Set("Prefer", k.Prefer)
	}
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	if r.Method == http.MethodPost {
		r.Header.Set("Content-Type", "application/fhir+json")
		r.Body = Parameters(k.Params)
	} else {
		q := url.Values{}
		for _, p := range k.Params {
			q.Add(p.Name, p.Value)
		}
		r.URL += "?" + q.Encode()
	}
	return c.Do(ctx, r)
}

// Manifest is a Bulk Data completion manifest.
type Manifest struct {
	TransactionTime     string        `json:"transactionTime"`
	Request             string        `json:"request"`
	RequiresAccessToken *bool         `json:"requiresAccessToken"`
	Output              []ManifestRef `json:"output"`
	Error               []ManifestRef `json:"error"`
	Deleted             []ManifestRef `json:"deleted,omitempty"`
	// Raw is the manifest as received.
	Raw json.RawMessage `json:"-"`
}

// ManifestRef is one file of a manifest.
type ManifestRef struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count *int   `json:"count,omitempty"`
}

// PollOptions bound polling.
type PollOptions struct {
	// Deadline ends polling; zero means 5 minutes from now.
	Deadline time.Time
	// MinWait and MaxWait bound the wait between polls when the server
	// gives no Retry-After, with exponential backoff between them; MaxWait
	// also caps a server's Retry-After so a huge value cannot stall a run
	// past its deadline.
	MinWait, MaxWait time.Duration
}

// ErrPollTimeout means the export did not complete before the deadline.
var ErrPollTimeout = errors.New("the export did not complete in time")

// Poll polls a status URL until the export completes, fails or the deadline
// passes. It returns the final response (200 or an error status) and, on
// 200, the parsed manifest. The 202 responses seen are returned too, for
// checks on their headers.
func (c *Client) Poll(ctx context.Context, statusURL string, o PollOptions) (final *Response, pending []*Response, err error) {
	if o.Deadline.IsZero() {
		o.Deadline = time.Now().Add(5 * time.Minute)
	}
	if o.MinWait <= 0 {
		o.MinWait = 100 * time.Millisecond
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 10 * time.Second
	}
	ctx, cancel := context.WithDeadline(ctx, o.Deadline)
	defer cancel()
	wait := o.MinWait
	for {
		resp, err := c.Do(ctx, Request{Method: http.MethodGet, URL: statusURL, Header: http.Header{"Accept": {"application/json"}}})
		if err != nil {
			if ctx.Err() != nil && time.Now().After(o.Deadline) {
				return nil, pending, ErrPollTimeout
			}
			return nil, pending, err
		}
		switch resp.StatusCode {
		case http.StatusAccepted, http.StatusTooManyRequests:
			if resp.StatusCode == http.StatusAccepted {
				pending = append(pending, resp)
				// Keep only the first and the last few 202s: a server that
				// answers 202 forever must not grow memory.
				if len(pending) > 8 {
					pending = append(pending[:1], pending[len(pending)-7:]...)
				}
				if p := resp.Header.Get("X-Progress"); p != "" {
					c.progress("export in progress: %s", p)
				}
			}
			next := wait
			if ra, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				next = ra
			} else {
				wait = min(wait*2, o.MaxWait)
			}
			next = min(max(next, o.MinWait), o.MaxWait)
			select {
			case <-ctx.Done():
				return nil, pending, ErrPollTimeout
			case <-time.After(next):
			}
		default:
			return resp, pending, nil
		}
	}
}

// RetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// ParseManifest decodes a manifest body.
func ParseManifest(body []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("the manifest is not JSON: %w", err)
	}
	m.Raw = append(json.RawMessage(nil), body...)
	return &m, nil
}

// Delete cancels an export.
func (c *Client) Delete(ctx context.Context, statusURL string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodDelete, URL: statusURL})
}
