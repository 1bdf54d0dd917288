// Package bulk is the harness's FHIR Bulk Data client: kick-off by POST or
// GET, status polling that honours Retry-After and 429, streaming downloads
// to temporary files, and DELETE. Every exchange is recorded as evidence
// with its secrets redacted.
package bulk

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
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
	// CheckHead, when set, checks a streamed download's status and headers
	// (its body goes to disk, not through Check).
	CheckHead func(req *http.Request, resp *http.Response) []string
	// MaxBody bounds bodies read into memory (not downloads); 0 = 16 MiB.
	MaxBody int64
	// RequestTimeout bounds one exchange of Do, from sending the request to
	// the end of its body; 0 means no bound beyond the context. Downloads
	// are bounded by DownloadOptions.Idle instead: a large file may take
	// long, but never long without a byte.
	RequestTimeout time.Duration
	// Progress, when set, hears of long work.
	Progress func(format string, args ...any)
	// Operation is the export operation a kick-off calls when
	// Kickoff.Operation is empty; "" means $davinci-data-export.
	Operation string

	// sleep waits between polls; nil waits on a timer. Tests replace it to
	// see the waits Poll chooses without spending them.
	sleep func(ctx context.Context, d time.Duration)
}

// wait sleeps for d or until ctx ends.
func (c *Client) wait(ctx context.Context, d time.Duration) {
	if c.sleep != nil {
		c.sleep(ctx, d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
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

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
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

// ErrTooManyRedirects is a request that met more redirects than a client
// built with CheckRedirect follows: a redirect loop, most likely.
var ErrTooManyRedirects = errors.New("too many redirects")

// CheckRedirect returns an http.Client CheckRedirect that follows at most n
// redirects, so that a redirect loop ends as an error (ErrTooManyRedirects)
// rather than a hang, and Poll does not retry it.
func CheckRedirect(n int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= n {
			return fmt.Errorf("%w: stopped after %d redirects, at %s", ErrTooManyRedirects, len(via), evidence.RedactURL(req.URL.String()))
		}
		return nil
	}
}

// ErrRequestTimeout is an exchange that did not complete within
// Client.RequestTimeout.
var ErrRequestTimeout = errors.New("no complete answer within the request timeout")

func (c *Client) do(ctx context.Context, r Request) (*Response, error) {
	if c.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.RequestTimeout, ErrRequestTimeout)
		defer cancel()
	}
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
	resp, err := c.httpClient().Do(req)
	if err != nil {
		// The *url.Error repeats the method and URL that the message
		// below gives already.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		err = c.timedOut(ctx, err)
		ex.Duration, ex.Error = time.Since(start), err.Error()
		c.record(ex)
		return nil, fmt.Errorf("%s %s: %w", req.Method, evidence.RedactURL(req.URL.String()), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody()+1))
	ex.Status, ex.ResponseHeaders = resp.StatusCode, evidence.RedactHeaders(resp.Header)
	ex.ResponseBody, ex.Duration = evidence.Preview(body), time.Since(start)
	if err != nil {
		err = c.timedOut(ctx, err)
		ex.Error = "reading the body: " + err.Error()
		c.record(ex)
		return nil, fmt.Errorf("%s %s: HTTP %d, reading the body: %w", req.Method, evidence.RedactURL(req.URL.String()), resp.StatusCode, err)
	}
	if int64(len(body)) > c.maxBody() {
		ex.Error = fmt.Sprintf("body larger than %d bytes", c.maxBody())
		c.record(ex)
		return nil, fmt.Errorf("%s %s: HTTP %d, the body is larger than %d bytes", req.Method, evidence.RedactURL(req.URL.String()), resp.StatusCode, c.maxBody())
	}
	if c.Check != nil {
		ex.Conformance = c.Check(req, r.Body, resp, body)
	}
	c.record(ex)
	return &Response{Response: resp, Body: body}, nil
}

// timedOut names why the context ended, when it did, rather than the bare
// "context deadline exceeded" the transport reports: the request timeout,
// or the reason a caller gave (the export's timeout, say).
func (c *Client) timedOut(ctx context.Context, err error) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrRequestTimeout):
		return fmt.Errorf("%w (%s)", ErrRequestTimeout, c.RequestTimeout)
	case cause != nil && cause != ctx.Err():
		return cause
	}
	return err
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
	// Operation is the operation to call, e.g. "$export"; "" means the
	// Client's Operation.
	Operation string
	// RetryUntil, when set, makes a 429 answer (too many exports at once)
	// wait for its Retry-After, or a backoff, and kick off again, as long
	// as the next attempt can start before this time. Zero returns the 429.
	RetryUntil time.Time
}

// DefaultOperation is the Provider Access export operation (PDex).
const DefaultOperation = "$davinci-data-export"

// StartExport sends a kick-off.
func (c *Client) StartExport(ctx context.Context, k Kickoff) (*Response, error) {
	op := cmp.Or(k.Operation, c.Operation, DefaultOperation)
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
	backoff := time.Second
	for {
		resp, err := c.Do(ctx, r)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || k.RetryUntil.IsZero() {
			return resp, err
		}
		wait, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait, backoff = backoff, min(backoff*2, 30*time.Second)
		}
		if time.Now().Add(wait).After(k.RetryUntil) {
			return resp, nil
		}
		c.progress("kick-off answered 429: trying again in %s", wait)
		if c.wait(ctx, wait); ctx.Err() != nil {
			return resp, nil
		}
	}
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
	// MinWait and MaxWait bound the wait between polls. Without a
	// Retry-After the wait starts at MinWait and doubles after each poll up
	// to MaxWait. A Retry-After is honoured, but capped at MaxWait so that
	// an absurd value cannot stall a run: an early poll risks no more than
	// a 429, which is honoured the same way. Zero means 100 ms and 10 s.
	MinWait, MaxWait time.Duration
	// Transient is how many transient failures in a row are retried before
	// Poll gives up; 0 means 3, a negative value none. See Poll.
	Transient int
}

// ErrPollTimeout means the export did not complete before the deadline.
var ErrPollTimeout = errors.New("the export did not complete in time")

// keptPending is how many 202 responses Poll returns at most (the first
// and the latest), and keptPendingBody how much of each body it keeps: a
// target that answers 202 forever must not grow memory.
const (
	keptPending     = 8
	keptPendingBody = 4 << 10
)

// Poll polls a status URL until the export completes, fails or the deadline
// passes. It returns the final response (200, or the error status that
// ended the export) and, on 200, the caller parses the manifest. The first
// and latest 202 responses seen are returned too, for checks on their
// headers, with their bodies cut short.
//
// 202 and 429 wait and poll again. A transient failure waits and polls
// again too, at most o.Transient times in a row: a transport error (the
// connection refused or reset, no answer within the request timeout; not
// a redirect loop, which retrying cannot cure), a
// 5xx whose body is not an OperationOutcome (a gateway's error page), or
// any status whose OperationOutcome has only transient issue codes (Bulk
// Data: a polling failure that does not mean the export failed SHOULD use a
// transient code). Any other status ends polling and is returned as final:
// a 4xx or 5xx with an OperationOutcome is the export failing.
//
// When the next poll could only happen after the deadline, Poll returns
// ErrPollTimeout at once rather than sleeping until then.
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
	o.MaxWait = max(o.MaxWait, o.MinWait)
	switch {
	case o.Transient == 0:
		o.Transient = 3
	case o.Transient < 0:
		o.Transient = 0
	}
	ctx, cancel := context.WithDeadline(ctx, o.Deadline)
	defer cancel()
	started := time.Now()
	backoff := o.MinWait
	failures := 0
	for polls := 1; ; polls++ {
		resp, err := c.Do(ctx, Request{Method: http.MethodGet, URL: statusURL, Header: http.Header{"Accept": {"application/json"}}})
		switch {
		case err != nil && ctx.Err() != nil:
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, pending, fmt.Errorf("%w: still in progress after %d status requests in %s", ErrPollTimeout, polls, time.Since(started).Round(time.Millisecond))
			}
			return nil, pending, ctx.Err()
		case err != nil:
			if failures >= o.Transient || errors.Is(err, ErrTooManyRedirects) || errors.Is(err, ErrTargetDown) {
				return nil, pending, transientEnd(err, failures)
			}
			failures++
		case resp.StatusCode == http.StatusAccepted:
			failures = 0
			pending = keepPending(pending, resp)
			if p := resp.Header.Get("X-Progress"); p != "" {
				c.progress("export in progress: %s", cut(p, 100))
			}
		case resp.StatusCode == http.StatusTooManyRequests:
			// Polled too often: not a failure, just wait as told.
		case transient(resp):
			if failures >= o.Transient {
				return resp, pending, nil
			}
			failures++
		default:
			return resp, pending, nil
		}

		next, told := backoff, false
		if resp != nil {
			next, told = RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		if !told {
			next, backoff = backoff, min(backoff*2, o.MaxWait)
		}
		next = min(max(next, o.MinWait), o.MaxWait)
		if time.Now().Add(next).After(o.Deadline) {
			return nil, pending, fmt.Errorf("%w: still in progress after %d status requests in %s, and the next one (in %s) would be past the deadline",
				ErrPollTimeout, polls, time.Since(started).Round(time.Millisecond), next)
		}
		c.wait(ctx, next)
	}
}

// transientEnd is the error of the last of too many transient failures.
func transientEnd(err error, retries int) error {
	if retries == 0 {
		return err
	}
	return fmt.Errorf("%w (after %d retries)", err, retries)
}

// keepPending adds a 202 to the ones kept: the first, and the latest up to
// keptPending in all, each with its body cut to keptPendingBody.
func keepPending(pending []*Response, resp *Response) []*Response {
	kept := *resp
	if len(kept.Body) > keptPendingBody {
		// A copy, so that the full body can be collected.
		kept.Body = append([]byte(nil), kept.Body[:keptPendingBody]...)
	}
	pending = append(pending, &kept)
	if len(pending) > keptPending {
		pending = append(pending[:1], pending[len(pending)-keptPending+1:]...)
	}
	return pending
}

// transientCodes are the IssueType codes under "transient".
var transientCodes = map[string]bool{
	"transient": true, "lock-error": true, "no-store": true, "exception": true,
	"timeout": true, "incomplete": true, "throttled": true,
}

// transient reports whether an error status on a status request means "try
// again later" rather than "the export failed" (see Poll).
func transient(resp *Response) bool {
	if resp.StatusCode < 400 {
		return false
	}
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code string `json:"code"`
		} `json:"issue"`
	}
	if json.Unmarshal(resp.Body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return resp.StatusCode >= 500
	}
	if len(oo.Issue) == 0 {
		return false
	}
	for _, is := range oo.Issue {
		if !transientCodes[is.Code] {
			return false
		}
	}
	return true
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// maxRetryAfter bounds a delay-seconds value so that it fits a Duration; it
// is capped far lower by PollOptions.MaxWait anyway.
const maxRetryAfter = 1 << 31

// RetryAfter reads a Retry-After value: delay-seconds or an HTTP date. A
// date in the past means no wait; a number too large to hold means a very
// long wait.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > maxRetryAfter {
			secs = maxRetryAfter // only overflow fails for digits alone
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// ParseManifest decodes a manifest body. A body that is not a JSON object
// (an HTML error page, a truncated document) is an error that quotes its
// start.
func ParseManifest(body []byte) (*Manifest, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("the manifest is empty")
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("the manifest is not a JSON object; it starts %q", cut(string(trimmed), 80))
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("the manifest is not a valid Bulk Data manifest: %w; it starts %q", err, cut(string(trimmed), 80))
	}
	m.Raw = append(json.RawMessage(nil), body...)
	return &m, nil
}

// Delete cancels an export.
func (c *Client) Delete(ctx context.Context, statusURL string) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodDelete, URL: statusURL})
}
