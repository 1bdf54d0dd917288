package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/pdex-conform/pdex-conform/ndjson"
)

// maxMismatches bounds what one exchange reports: a body wrong in a
// thousand places says so in a few.
const maxMismatches = 12

// describe turns a kin-openapi validation error into short sentences, in a
// fixed order (the validator reports a body's errors in none) and bounded.
func describe(err error) []string {
	out := reasons(err)
	sort.Strings(out)
	if len(out) > maxMismatches {
		n := len(out) - maxMismatches
		out = append(out[:maxMismatches], fmt.Sprintf("and %d more", n))
	}
	return out
}

func reasons(err error) []string {
	// A type switch, not errors.As: MultiError.As would pick only its first
	// matching error.
	var out []string
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			out = append(out, reasons(x)...)
		}
	case *openapi3filter.SecurityRequirementsError:
		out = append(out, "no bearer token, which the description requires")
	case *openapi3filter.ResponseError:
		switch {
		case e.Err == nil:
			out = append(out, e.Reason)
		case strings.HasPrefix(e.Reason, "response body doesn't match schema"):
			for _, r := range schemaReasons(e.Err) {
				out = append(out, located("body", r))
			}
		case strings.HasPrefix(e.Reason, "failed to decode response body"):
			out = append(out, "the body could not be read as its content type says: "+parseReason(e.Err))
		default:
			out = append(out, e.Reason+": "+clip(oneLine(e.Err.Error()), 240))
		}
	case *openapi3filter.RequestError:
		what := "body"
		if e.Parameter != nil {
			what = e.Parameter.In + " parameter " + e.Parameter.Name
		}
		var pe *openapi3filter.ParseError
		switch {
		case e.Err == nil:
			out = append(out, what+": "+e.Reason)
		case errors.As(e.Err, &pe):
			out = append(out, what+": "+parseReason(pe))
		default:
			for _, r := range schemaReasons(e.Err) {
				out = append(out, located(what, r))
			}
		}
	default:
		out = append(out, schemaReasons(err)...)
	}
	return out
}

// oneOf says the values an enum allows: 'a', or one of 'a', 'b'.
func oneOf(values []any) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("'%v'", v)
	}
	if len(quoted) == 1 {
		return quoted[0]
	}
	return "one of " + strings.Join(quoted, ", ")
}

// located joins what was checked and a reason that may start with a JSON
// pointer: "body /a/b: reason", or "body: reason" at the top.
func located(what, reason string) string {
	if strings.HasPrefix(reason, "/") {
		return what + " " + reason
	}
	return what + ": " + reason
}

// schemaReasons lists the schema errors in err as "path: reason".
func schemaReasons(err error) []string {
	switch e := err.(type) {
	case openapi3.MultiError:
		var out []string
		for _, x := range e {
			out = append(out, schemaReasons(x)...)
		}
		return out
	case *openapi3.SchemaError:
		// The errors of the JSON Schema 2020-12 validator nest: the leaves
		// (in Origin) say what is wrong where.
		var me openapi3.MultiError
		var se *openapi3.SchemaError
		if e.Origin != nil && (errors.As(e.Origin, &me) || errors.As(e.Origin, &se)) {
			if rs := schemaReasons(e.Origin); len(rs) > 0 {
				return rs
			}
		}
		pointer := e.JSONPointer()
		reason := e.Reason
		switch {
		case e.SchemaField == "required" && len(pointer) > 0:
			// Said of the object that lacks the property.
			reason = fmt.Sprintf("missing property '%s'", pointer[len(pointer)-1])
			pointer = pointer[:len(pointer)-1]
		case e.SchemaField == "enum" && e.Schema != nil:
			reason = "value must be " + oneOf(e.Schema.Enum)
		case e.SchemaField == "pattern" && e.Schema != nil:
			reason = fmt.Sprintf("'%s' does not match pattern '%s'", clip(fmt.Sprint(e.Value), 80), e.Schema.Pattern)
		case reason == "":
			reason = "does not match " + e.SchemaField
		}
		path := "/" + strings.Join(pointer, "/")
		// Reasons from the JSON Schema 2020-12 validator name the location
		// themselves, as "at '/a/b': ..."; put it the way the others do.
		if m := at.FindStringSubmatch(reason); m != nil {
			path, reason = m[1], m[2]
		}
		if path == "" || path == "/" {
			return []string{clip(oneLine(reason), 240)}
		}
		return []string{clip(path+": "+oneLine(reason), 240)}
	}
	if u := errors.Unwrap(err); u != nil {
		return schemaReasons(u)
	}
	return []string{clip(oneLine(err.Error()), 240)}
}

var at = regexp.MustCompile(`(?s)^(?:error at "[^"]*": )?at '([^']*)': (.*)$`)

func parseReason(err error) string {
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		msg := pe.Reason
		if pe.Cause != nil {
			if msg != "" {
				msg += ": "
			}
			msg += pe.Cause.Error()
		}
		if msg == "" {
			msg = pe.Error()
		}
		return clip(oneLine(msg), 240)
	}
	return clip(oneLine(err.Error()), 240)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// scrub removes secrets that validation messages may quote (the JSON
// Schema 2020-12 validator includes values): the bearer token sent, a
// client assertion, an access token received, and anything shaped like a
// JWT.
func scrub(msgs []string, req *http.Request, reqBody, respBody []byte) []string {
	if len(msgs) == 0 {
		return nil
	}
	var secrets []string
	if _, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && len(tok) >= 8 {
		secrets = append(secrets, tok)
	}
	if form, err := url.ParseQuery(string(reqBody)); err == nil {
		for _, k := range []string{"client_assertion", "client_secret"} {
			if v := form.Get(k); len(v) >= 8 {
				secrets = append(secrets, v)
			}
		}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(respBody, &tok) == nil && len(tok.AccessToken) >= 8 {
		secrets = append(secrets, tok.AccessToken)
	}
	for i, m := range msgs {
		for _, s := range secrets {
			m = strings.ReplaceAll(m, s, "[REDACTED]")
		}
		msgs[i] = jwtShape.ReplaceAllString(m, "[REDACTED]")
	}
	return msgs
}

// ndjsonDecoder reads application/fhir+ndjson: one JSON value per line
// (blank lines allowed), as an array for the schema to check.
func ndjsonDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	r := ndjson.NewReader(body, 0)
	var out []any
	for {
		n, line, err := r.Next()
		var tooLong *ndjson.LineTooLongError
		switch {
		case errors.Is(err, io.EOF):
			return out, nil
		case errors.As(err, &tooLong):
			return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Reason: tooLong.Error()}
		case err != nil:
			return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindOther, Reason: "reading the body", Cause: err}
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		if derr := d.Decode(&v); derr != nil {
			return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Reason: fmt.Sprintf("line %d is not JSON", n), Cause: derr}
		}
		if d.More() {
			return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Reason: fmt.Sprintf("line %d holds more than one JSON value", n)}
		}
		out = append(out, v)
	}
}

// manifestURLs lists the file URLs of a manifest body (nothing when it is
// not one).
func manifestURLs(body []byte) []string {
	var m struct {
		Output, Error, Deleted []struct {
			URL string `json:"url"`
		}
	}
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	var out []string
	for _, list := range [][]struct {
		URL string `json:"url"`
	}{m.Output, m.Error, m.Deleted} {
		for _, f := range list {
			out = append(out, f.URL)
		}
	}
	return out
}

func tokenEndpoint(body []byte) string {
	var sc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	json.Unmarshal(body, &sc)
	return sc.TokenEndpoint
}

func readCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
