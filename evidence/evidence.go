// Package evidence is what a run keeps of what it saw, for the reports:
// HTTP exchanges with their secrets redacted, manifests, and validation
// findings. Specs attach evidence to the Ginkgo report as entries named by
// the constants here; the reports read them back.
package evidence

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Report entry names.
const (
	EntryExchange   = "http-exchange"
	EntryManifest   = "bulk-manifest"
	EntryValidation = "validation"
	EntryExport     = "export-summary"
	EntryBlocked    = "blocked-by"
	EntryResource   = "offending-resource"
	EntryCoverage   = "validation-coverage"
)

// Resource is an exported resource a spec found at fault, kept whole so that
// a reader sees it, with the elements at fault.
type Resource struct {
	// Key is "Type/id"; File and Line where it was exported.
	Key  string `json:"key"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// JSON is the resource as exported (redacted like every body).
	JSON string `json:"json"`
	// Paths are the offending elements, as FHIRPath-like paths
	// ("ExplanationOfBenefit.item[0].adjudication[1].amount"); Why says
	// what is wrong with them.
	Paths []string `json:"paths"`
	Why   []string `json:"why,omitempty"`
}

// MaxResourceJSON bounds a resource kept as evidence; a larger one is cut
// (and said to be).
const MaxResourceJSON = 64 << 10

// Coverage says how much of an export validation covered, and which checks
// could not be made offline, counted once per value set (or code system or
// profile) rather than once per element.
type Coverage struct {
	// Resources validated.
	Resources int `json:"resources"`
	// NotChecked counts the checks not made, by what they needed.
	NotChecked map[string]int `json:"notChecked,omitempty"`
}

// Blocked records that a spec could not run because a prerequisite failed.
type Blocked struct {
	// Prerequisite names what failed, e.g. "the full Group export".
	Prerequisite string `json:"prerequisite"`
	// Reason is how it failed.
	Reason string `json:"reason"`
	// Met says the spec ran and met the failed prerequisite on its way
	// (a request the target no longer answered, no access token): it is
	// blocked whatever it then concluded.
	Met bool `json:"met,omitempty"`
	// IfFailed says the spec met connection failures before the target
	// was found down: it is blocked if, by the end of the run, the
	// prerequisite is known to have failed (the target did stop
	// answering), and judged as it ended otherwise.
	IfFailed bool `json:"ifFailed,omitempty"`
}

// BodyPreview is how much of a body an exchange keeps.
const BodyPreview = 2048

// Exchange is one HTTP request and its response.
type Exchange struct {
	Method          string              `json:"method"`
	URL             string              `json:"url"`
	RequestHeaders  map[string][]string `json:"requestHeaders,omitempty"`
	RequestBody     string              `json:"requestBody,omitempty"`
	Status          int                 `json:"status,omitempty"`
	ResponseHeaders map[string][]string `json:"responseHeaders,omitempty"`
	ResponseBody    string              `json:"responseBody,omitempty"`
	// BodyBytes is the response body's full size when it was streamed to
	// a file rather than kept.
	BodyBytes int64         `json:"bodyBytes,omitempty"`
	Duration  time.Duration `json:"duration"`
	Error     string        `json:"error,omitempty"`
	// Conformance lists mismatches with the API's OpenAPI description.
	Conformance []string `json:"conformance,omitempty"`
}

// Validation summarises the validation of one file.
type Validation struct {
	File      string   `json:"file"`
	Type      string   `json:"type"`
	Lines     int      `json:"lines"`
	Errors    int      `json:"errors"`
	Warnings  int      `json:"warnings"`
	First     []string `json:"first,omitempty"` // the first issues, "line N: path: message"
	Truncated bool     `json:"truncated,omitempty"`
}

// ExportSummary counts what an export produced.
type ExportSummary struct {
	Resources map[string]int `json:"resources"`
	Bytes     int64          `json:"bytes"`
	Files     int            `json:"files"`
}

// Headers whose values are secrets.
var secretHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
}

// Redacted marks a removed secret.
const Redacted = "[REDACTED]"

// RedactHeaders copies headers without secret values.
func RedactHeaders(h http.Header) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string][]string, len(h))
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if secretHeaders[http.CanonicalHeaderKey(k)] {
			v := Redacted
			if scheme, _, ok := strings.Cut(h.Get(k), " "); ok {
				v = scheme + " " + Redacted
			}
			out[k] = []string{v}
			continue
		}
		out[k] = append([]string(nil), h[k]...)
	}
	return out
}

// Secret material that may appear in bodies: access tokens and client
// assertions in forms and JSON, JWTs anywhere, PEM private keys.
var (
	formSecret = regexp.MustCompile(`((?:client_assertion|access_token|refresh_token|id_token|client_secret)=)[^&\s]+`)
	jsonSecret = regexp.MustCompile(`("(?:access_token|refresh_token|id_token|client_assertion|client_secret|d|p|q|dp|dq|qi|privateKey)"\s*:\s*")[^"]*(")`)
	jwt        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	pemKey     = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`)
)

// RedactBody removes secrets from a body preview.
func RedactBody(s string) string {
	// Every exchange's body passes here: a regular expression runs only
	// where a literal it needs is present (most bodies hold none).
	if containsAny(s, formNames) {
		s = formSecret.ReplaceAllString(s, "${1}"+url.QueryEscape(Redacted))
	}
	if containsAny(s, jsonNames) {
		s = jsonSecret.ReplaceAllString(s, "${1}"+Redacted+"${2}")
	}
	if strings.Contains(s, "eyJ") {
		s = jwt.ReplaceAllString(s, Redacted)
	}
	if strings.Contains(s, "PRIVATE KEY-----") {
		s = pemKey.ReplaceAllString(s, Redacted)
	}
	return s
}

// The literals formSecret and jsonSecret cannot match without.
var (
	formNames = []string{"client_assertion=", "access_token=", "refresh_token=", "id_token=", "client_secret="}
	jsonNames = []string{`"access_token"`, `"refresh_token"`, `"id_token"`, `"client_assertion"`, `"client_secret"`,
		`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`, `"privateKey"`}
)

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// RedactURL removes secrets that some servers put in query strings.
func RedactURL(u string) string {
	return formSecret.ReplaceAllString(u, "${1}"+url.QueryEscape(Redacted))
}

// Preview cuts a body to BodyPreview bytes, on a UTF-8 boundary, and
// redacts it.
func Preview(b []byte) string {
	if len(b) > BodyPreview {
		cut := BodyPreview
		// Several lines (NDJSON): whole lines only, so that no resource is
		// shown cut in the middle.
		if nl := bytes.LastIndexByte(b[:cut], '\n'); nl > 0 {
			cut = nl + 1
		}
		for cut > 0 && b[cut]&0xC0 == 0x80 {
			cut--
		}
		return RedactBody(strings.ToValidUTF8(string(b[:cut]), "\uFFFD")) + "…"
	}
	return RedactBody(strings.ToValidUTF8(string(b), "\uFFFD"))
}
