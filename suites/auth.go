package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/client/smart"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// smartCredentials returns the run's SMART client credentials, skipping the
// spec when the run does not use SMART Backend Services.
func smartCredentials(ctx context.Context, e *framework.Env) smart.Credentials {
	if ok, why := e.SMART(); !ok {
		Skip(why)
	}
	creds, err := e.Credentials(ctx)
	framework.NoError(err, "Building the SMART client credentials")
	return creds
}

// otherClient returns a client authorized as the second registered client,
// skipping the spec when none is configured.
func otherClient(ctx context.Context, e *framework.Env) *bulk.Client {
	if ok, why := e.SMART(); !ok {
		Skip(why)
	}
	if e.Config.Auth.Other == nil {
		Skip("auth.other is not configured: client isolation needs a second registered client (clientId, keyId, alg, privateKey)")
	}
	creds, err := e.OtherCredentials(ctx)
	framework.NoError(err, "Building the credentials of auth.other")
	return e.ClientAs(creds)
}

// tokenBody is a token endpoint answer, success or error.
type tokenBody struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Scope       string          `json:"scope"`
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
}

// refusal is one kind of token request the endpoint must refuse.
type refusal struct {
	// assertion returns the options that break the client assertion; nil
	// means a correct assertion.
	assertion func(e *framework.Env, c smart.Credentials) (smart.AssertionOptions, error)
	// form breaks the token request form; nil leaves it correct.
	form func(url.Values)
	// replay sends the request once first, which must succeed.
	replay bool
	// codes are the acceptable OAuth error codes.
	codes []string
}

// Error codes. Every fault in the client assertion is invalid_client: SMART
// Backend Services says so, and RFC 7523 §3.2 / RFC 7521 §4.2.1 agree for
// client authentication (invalid_grant is for assertions used as grants,
// which these are not).
var (
	invalidClient = []string{"invalid_client"}
	// A grant_type the server does not support is unsupported_grant_type
	// (RFC 6749 §5.2); one it supports but not for this client is
	// unauthorized_client. A server may also see a password grant without
	// username as invalid_request before looking at the type. All three
	// refuse it.
	wrongGrant = []string{"unsupported_grant_type", "unauthorized_client", "invalid_request"}
	// An assertion type the server does not understand fails client
	// authentication (invalid_client, RFC 7521 §4.2.1); RFC 6749 §5.2's
	// invalid_request ("unsupported parameter value") fits as well.
	wrongAssertionType = []string{"invalid_client", "invalid_request"}
)

func withAssertion(o smart.AssertionOptions) func(*framework.Env, smart.Credentials) (smart.AssertionOptions, error) {
	return func(*framework.Env, smart.Credentials) (smart.AssertionOptions, error) { return o, nil }
}

// expectRefused checks a token endpoint refusal: 400 or 401 (SMART allows
// either; RFC 6749 §5.2), an OAuth error object with one of codes, and no
// token.
func expectRefused(resp *bulk.Response, codes []string) {
	var b tokenBody
	_ = json.Unmarshal(resp.Body, &b)
	framework.Checkf(resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized,
		"The token endpoint must refuse with 400 or 401; it answered HTTP %d%s", resp.StatusCode, issued(b))
	framework.Checkf(json.Valid(resp.Body), "The token endpoint's refusal is not a JSON error object (RFC 6749 §5.2): %s", framework.OutcomeText(resp.Body))
	framework.Checkf(slices.Contains(codes, b.Error), "The token endpoint refused with error %q (error_description %q); it must be %s", b.Error, b.Description, strings.Join(codes, " or "))
	framework.Checkf(b.AccessToken == "", "The token endpoint's refusal carries an access token")
}

func issued(b tokenBody) string {
	if b.AccessToken != "" {
		return " and issued an access token"
	}
	return ""
}

// tamper changes one character in the middle of a token, so that a server
// that checks its tokens (signature, MAC or lookup) cannot accept it.
func tamper(tok string) string {
	b := []byte(tok)
	if len(b) == 0 {
		return "pdex-conform-invalid-token"
	}
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func registerAuth(e *framework.Env) {
	Describe("Authorization", func() {
		It("issues a bearer access token for a correct client assertion", e.Req("PA-AUTH-01"), func(ctx SpecContext) {
			creds := smartCredentials(ctx, e)
			a, err := creds.Assertion(smart.AssertionOptions{})
			framework.NoError(err, "Building the client assertion")
			resp, err := e.TokenRequest(ctx, smart.Form(a, creds.Scope))
			framework.NoError(err, "Sending the token request")
			var b tokenBody
			framework.Checkf(resp.StatusCode == http.StatusOK, "The token endpoint answered a correct client assertion with HTTP %d, not 200: %s", resp.StatusCode, framework.OutcomeText(resp.Body))
			framework.Checkf(json.Unmarshal(resp.Body, &b) == nil, "The token response is not a JSON object: %s", framework.OutcomeText(resp.Body))
			framework.Checkf(b.AccessToken != "", "The token response has no access_token")
			framework.Checkf(strings.EqualFold(b.TokenType, "bearer"), "The token response's token_type is %q, not bearer", b.TokenType)
			var expires float64
			framework.Checkf(len(b.ExpiresIn) > 0, "The token response has no expires_in, which SMART Backend Services requires")
			framework.Checkf(json.Unmarshal(b.ExpiresIn, &expires) == nil, "The token response's expires_in is %s, not a number of seconds", b.ExpiresIn)
			framework.Checkf(expires > 0, "The token response's expires_in is %v, not a positive number of seconds", expires)
			framework.Checkf(b.Scope != "", "The token response has no scope, which SMART Backend Services requires")

			// The token must be good for what it was issued for.
			r, err := e.Client().Do(ctx, bulk.Request{Method: http.MethodGet, URL: "Group/" + url.PathEscape(e.Config.Group), Token: b.AccessToken})
			framework.NoError(err, "Sending GET Group/"+e.Config.Group+" with the issued token")
			framework.Checkf(r.StatusCode == http.StatusOK, "GET Group/%s with the issued token was answered HTTP %d, not 200: %s", e.Config.Group, r.StatusCode, framework.OutcomeText(r.Body))
		})

		DescribeTable("refuses a token request",
			func(ctx SpecContext, r refusal) {
				creds := smartCredentials(ctx, e)
				var o smart.AssertionOptions
				if r.assertion != nil {
					var err error
					o, err = r.assertion(e, creds)
					framework.NoError(err, "Preparing the client assertion")
				}
				a, err := creds.Assertion(o)
				framework.NoError(err, "Building the client assertion")
				form := smart.Form(a, creds.Scope)
				if r.form != nil {
					r.form(form)
				}
				if r.replay {
					first, err := e.TokenRequest(ctx, form)
					framework.NoError(err, "Sending the token request")
					framework.Checkf(first.StatusCode == http.StatusOK, "The first use of the client assertion must get a token; the token endpoint answered HTTP %d: %s", first.StatusCode, framework.OutcomeText(first.Body))
				}
				resp, err := e.TokenRequest(ctx, form)
				framework.NoError(err, "Sending the token request")
				expectRefused(resp, r.codes)
			},
			Entry("with a corrupted signature", e.Req("PA-AUTH-02"), refusal{
				assertion: withAssertion(smart.AssertionOptions{CorruptSignature: true}), codes: invalidClient,
			}),
			Entry("signed with a key that is not registered", e.Req("PA-AUTH-02"), refusal{
				// Same kid and algorithm, another key: only the signature
				// check can tell.
				assertion: func(e *framework.Env, c smart.Credentials) (smart.AssertionOptions, error) {
					alg := c.Alg
					if alg == "" {
						var err error
						if alg, err = keys.AlgFor(c.Key); err != nil {
							return smart.AssertionOptions{}, err
						}
					}
					k, err := e.Strangers.Key(alg)
					return smart.AssertionOptions{SignWith: k}, err
				},
				codes: invalidClient,
			}),
			Entry("whose aud is not the token URL", e.Req("PA-AUTH-03"), refusal{
				// The FHIR base URL: the audience clients most often get
				// wrong.
				assertion: func(e *framework.Env, _ smart.Credentials) (smart.AssertionOptions, error) {
					return smart.AssertionOptions{Audience: e.Config.Target}, nil
				},
				codes: invalidClient,
			}),
			Entry("without exp", e.Req("PA-AUTH-04"), refusal{
				assertion: withAssertion(smart.AssertionOptions{OmitExp: true}), codes: invalidClient,
			}),
			Entry("with an exp in the past", e.Req("PA-AUTH-04"), refusal{
				// Ten minutes: well past any clock skew a server allows.
				assertion: withAssertion(smart.AssertionOptions{ExpiresIn: -10 * time.Minute}), codes: invalidClient,
			}),
			Entry("with an exp more than five minutes ahead", e.Req("PA-AUTH-04"), refusal{
				// An hour: over the five-minute limit by far more than any
				// clock skew.
				assertion: withAssertion(smart.AssertionOptions{ExpiresIn: time.Hour}), codes: invalidClient,
			}),
			Entry("with a jti already used", e.Req("PA-AUTH-05"), refusal{replay: true, codes: invalidClient}),
			Entry("from a client that is not registered", e.Req("PA-AUTH-06"), refusal{
				assertion: withAssertion(smart.AssertionOptions{Issuer: "pdex-conform-unregistered-client", Subject: "pdex-conform-unregistered-client"}),
				codes:     invalidClient,
			}),
			Entry("with a kid that is not registered", e.Req("PA-AUTH-06"), refusal{
				assertion: withAssertion(smart.AssertionOptions{KeyID: "pdex-conform-unregistered-kid"}), codes: invalidClient,
			}),
			Entry("with a grant_type other than client_credentials", e.Req("PA-AUTH-07"), refusal{
				form: func(v url.Values) { v.Set("grant_type", "password") }, codes: wrongGrant,
			}),
			Entry("with a client_assertion_type other than jwt-bearer", e.Req("PA-AUTH-07"), refusal{
				form: func(v url.Values) {
					v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
				},
				codes: wrongAssertionType,
			}),
			Entry("with alg none", e.Req("PA-AUTH-11"), refusal{
				assertion: withAssertion(smart.AssertionOptions{AlgNone: true}), codes: invalidClient,
			}),
			Entry("signed HS256 with the client's public key", e.Req("PA-AUTH-11"), refusal{
				// The algorithm-confusion attack: a verifier that takes the
				// algorithm from the header checks an HMAC keyed with the
				// public key (PEM, as the classic attack does).
				assertion: func(_ *framework.Env, c smart.Credentials) (smart.AssertionOptions, error) {
					pem, err := keys.PublicPEM(c.Key.Public())
					return smart.AssertionOptions{HS256Secret: pem}, err
				},
				codes: invalidClient,
			}),
		)

		DescribeTable("answers 401 to a FHIR request",
			func(ctx SpecContext, invalid bool) {
				if e.Config.Auth.Mode == "none" {
					Skip("auth.mode is none: the run has no token to withhold (configure auth.mode smart or bearer)")
				}
				req := bulk.Request{Method: http.MethodGet, URL: "Group/" + url.PathEscape(e.Config.Group), NoAuth: true}
				if invalid {
					good, err := e.Authorizer.Token(ctx)
					framework.NoError(err, "Getting an access token")
					req.NoAuth, req.Token = false, tamper(good)
				}
				resp, err := e.Client().Do(ctx, req)
				framework.NoError(err, "Sending GET Group/"+e.Config.Group)
				framework.Checkf(resp.StatusCode == http.StatusUnauthorized, "GET Group/%s %s was answered HTTP %d, not 401", e.Config.Group, CurrentSpecReport().LeafNodeText, resp.StatusCode)
			},
			Entry("without a token", e.Req("PA-AUTH-08"), false),
			Entry("with an invalid token", e.Req("PA-AUTH-08"), true),
		)

		It("refuses an output file without the token when the manifest says requiresAccessToken", e.Req("PA-AUTH-09"), func(ctx SpecContext) {
			if e.Config.Auth.Mode == "none" {
				Skip("auth.mode is none: the run has no token to withhold (configure auth.mode smart or bearer)")
			}
			x := fullExport(ctx, e)
			if r := x.Manifest.RequiresAccessToken; r == nil || !*r {
				Skip("the manifest does not say requiresAccessToken: true (PA-EXP-03 covers that)")
			}
			if len(x.Files) == 0 {
				Skip("the full export has no output file to ask for (PA-EXP-03 reports that)")
			}
			f := x.Files[0].Ref
			resp, err := e.Client().Do(ctx, bulk.Request{
				Method: http.MethodGet, URL: f.URL, NoAuth: true,
				Header: http.Header{"Accept": {"application/fhir+ndjson"}},
			})
			framework.NoError(err, "Sending GET "+f.URL+" without a token")
			// §pdex-377: the kick-off's token rules apply, i.e. 401; 403
			// and 404 refuse the file as well.
			framework.Checkf(slices.Contains([]int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}, resp.StatusCode),
				"GET of the %s file %s without a token was answered HTTP %d: the manifest says requiresAccessToken, so it must be refused (401)", f.Type, f.URL, resp.StatusCode)
		})

		Describe("client isolation", func() {
			// A client with a valid token for itself is refused, not
			// unauthenticated: 403, or 404 so as not to reveal what exists.
			refused := func(status int, format string, args ...any) {
				framework.Checkf(status == http.StatusForbidden || status == http.StatusNotFound,
					format+", not 403 or 404: the other client is not entitled to it", args...)
			}
			otherGroup := func() string {
				if e.Config.OtherGroup == "" {
					Skip("otherGroup is not configured: it names a Group that auth.other may not access")
				}
				return e.Config.OtherGroup
			}

			// ATR: producers "SHALL check the client may access that Group";
			// Bulk Data: the server "SHALL limit the data returned to only
			// those FHIR resources for which the client is authorized". A
			// 403 or 404 refuses — but only once the run's own client is
			// shown to read (or export) the same Group: otherwise a 404 may
			// just be a route or Group the server does not have.
			It("does not let a client read a Group it is not entitled to", e.Req("PA-AUTH-10"), func(ctx SpecContext) {
				c := otherClient(ctx, e)
				g := otherGroup()
				members(ctx, e) // blocks when the run's client cannot read its own Group
				own, err := e.Client().Do(ctx, framework.Get("Group/"+url.PathEscape(g)))
				framework.NoError(err, "the run's client's GET Group/"+g)
				if own.StatusCode != http.StatusOK {
					Skip(fmt.Sprintf("the run's client could not read Group/%s either (HTTP %d): otherGroup must name a Group the run's client may access and auth.other may not, so that a refusal shows the entitlement check", g, own.StatusCode))
				}
				resp, err := c.Do(ctx, framework.Get("Group/"+url.PathEscape(g)))
				framework.NoError(err, "auth.other's GET Group/"+g)
				refused(resp.StatusCode, "auth.other's GET Group/%s was answered HTTP %d", g, resp.StatusCode)
			})

			It("does not let a client export a Group it is not entitled to", e.Req("PA-AUTH-10"), func(ctx SpecContext) {
				c := otherClient(ctx, e)
				g := otherGroup()
				own, err := e.Attempt(ctx, framework.ExportRequest{Group: g, Params: params(e, edition.Snapshot, param("_type", "valueString", "Patient"))})
				framework.NoError(err, "the run's client's kick-off of Group/"+g)
				if own.StatusCode != http.StatusAccepted {
					e.KickoffGate(ctx, own)   // no export operation at all
					blockIfFlowBroken(ctx, e) // the run's client cannot export at all
					Skip(fmt.Sprintf("the run's client could not export Group/%s either (HTTP %d): otherGroup must name a Group the run's client may export and auth.other may not, so that a refusal shows the entitlement check", g, own.StatusCode))
				}
				resp, err := c.StartExport(ctx, bulk.Kickoff{Group: g, Params: params(e, edition.Snapshot, param("_type", "valueString", "Patient"))})
				framework.NoError(err, "auth.other's kick-off of Group/"+g)
				if loc := resp.Header.Get("Content-Location"); resp.StatusCode == http.StatusAccepted && loc != "" {
					// Do not leave the wrongly accepted job running.
					DeferCleanup(func(ctx SpecContext) { c.Delete(ctx, loc) })
				}
				refused(resp.StatusCode, "auth.other's kick-off of Group/%s was answered HTTP %d (%s)", g, resp.StatusCode, framework.OutcomeText(resp.Body))
			})

			It("does not let a client poll another client's export", e.Req("PA-AUTH-10"), func(ctx SpecContext) {
				c := otherClient(ctx, e)
				x := fullExport(ctx, e)
				resp, err := c.Do(ctx, bulk.Request{Method: http.MethodGet, URL: x.StatusURL, Header: http.Header{"Accept": {"application/json"}}})
				framework.NoError(err, "auth.other's GET "+x.StatusURL)
				refused(resp.StatusCode, "auth.other's GET %s (the run client's export) was answered HTTP %d", x.StatusURL, resp.StatusCode)
			})

			It("does not let a client download another client's files", e.Req("PA-AUTH-10"), func(ctx SpecContext) {
				c := otherClient(ctx, e)
				x := fullExport(ctx, e)
				if len(x.Files) == 0 {
					Skip("the full export has no output file to ask for (PA-EXP-03 reports that)")
				}
				f := x.Files[0].Ref
				resp, err := c.Do(ctx, bulk.Request{Method: http.MethodGet, URL: f.URL, Header: http.Header{"Accept": {"application/fhir+ndjson"}}})
				framework.NoError(err, "auth.other's GET "+f.URL)
				refused(resp.StatusCode, "auth.other's GET of the %s file %s (the run client's export) was answered HTTP %d", f.Type, f.URL, resp.StatusCode)
			})
		})
	})
}
