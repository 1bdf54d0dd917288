// Package auth is the authorization server side of SMART Backend Services
// for the reference server: the token endpoint that checks client
// assertions (private_key_jwt with RS384 or ES384) and issues access
// tokens, and the bearer-token check of every API request.
//
// Errors from the token endpoint follow RFC 6749 §5.2: HTTP 400 with a JSON
// body {"error": ..., "error_description": ...}. invalid_client is also sent
// with 400 rather than 401, because §5.2 reserves 401 for clients that
// authenticated through the Authorization header (which would need a
// WWW-Authenticate challenge for a scheme the client never used); SMART
// accepts either.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	grantTypeClientCredentials = "client_credentials"
	assertionTypeJWTBearer     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

	// maxForm bounds the token request body.
	maxForm = 64 << 10
	// maxAssertionLifetime is SMART's limit on how far ahead exp may lie.
	maxAssertionLifetime = 5 * time.Minute
)

// Client is a registered backend client.
type Client struct {
	ID string
	// JWKS is the client's public JWK set (JSON) given at registration.
	JWKS []byte
	// JWKSURL is the registered JWK set URL, if any. An assertion's "jku"
	// must equal it. When Options.HTTPClient is set, the keys found there
	// are used as well as those in JWKS.
	JWKSURL string
	// Scopes the client may be granted, e.g. "system/*.read", "system/*.rs".
	Scopes []string
	// Groups are the ids of the Groups the client may export.
	Groups []string
}

// Faults each disable exactly one check, so the conformance suite can be
// shown to notice. The zero value is a conformant server.
type Faults struct {
	// AcceptBadSignature skips signature verification (a bad signature or
	// one made with another key both get through; the key must still be
	// found by kid).
	AcceptBadSignature bool
	// IgnoreAudience skips the aud check.
	IgnoreAudience bool
	// IgnoreExpiry skips every exp check: missing, past, or too far ahead.
	IgnoreExpiry bool
	// AllowReplay skips the jti replay check (jti must still be present).
	AllowReplay bool
	// AcceptUnknownKid tries every key of the client when the kid matches
	// none (or is missing).
	AcceptUnknownKid bool
	// AcceptAnyGrantType accepts a grant_type other than
	// client_credentials (a missing one is still refused).
	AcceptAnyGrantType bool
	// AcceptAnyAssertion accepts a client_assertion_type other than
	// jwt-bearer (a missing one is still refused).
	AcceptAnyAssertion bool
	// TrustHeaderAlg verifies with the algorithm the assertion's header
	// names when it is "none" (no signature needed) or HS256 (an HMAC keyed
	// with the client's public key in PEM): algorithm confusion.
	TrustHeaderAlg bool
	// OmitExpiresIn leaves expires_in out of the token response.
	OmitExpiresIn bool
}

// Options configure a Server.
type Options struct {
	// TokenURL is the token endpoint's absolute URL: the exact aud expected.
	TokenURL string
	// Clients looks up a registered client by id.
	Clients func(id string) (*Client, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TokenTTL is the access token lifetime; zero means 300 s.
	TokenTTL time.Duration
	// Secret keys the access tokens' HMAC, at least 32 bytes. Persist it to
	// keep tokens valid across restarts; empty means a random one per Server.
	Secret []byte
	// ClockSkew is the tolerance for the client's clock; zero means 30 s.
	ClockSkew time.Duration
	// ReplayCacheSize bounds the remembered jti values per client; zero
	// means 10000. When full of live entries, token requests get 503.
	ReplayCacheSize int
	// HTTPClient, if set, is used to fetch registered JWKSURLs.
	HTTPClient *http.Client
	Faults     Faults
}

// Server checks client assertions and access tokens.
type Server struct {
	opts    Options
	replay  *replayCache
	fetcher *jwksFetcher
}

// New returns a Server. TokenURL and Clients are required.
func New(opts Options) (*Server, error) {
	if opts.TokenURL == "" {
		return nil, errors.New("auth server: no token URL")
	}
	if u, err := url.Parse(opts.TokenURL); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("auth server: token URL %q is not an absolute URL", opts.TokenURL)
	}
	if opts.Clients == nil {
		return nil, errors.New("auth server: no client registry")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 300 * time.Second
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 30 * time.Second
	}
	if opts.ReplayCacheSize <= 0 {
		opts.ReplayCacheSize = 10000
	}
	switch {
	case len(opts.Secret) == 0:
		opts.Secret = make([]byte, 32)
		if _, err := rand.Read(opts.Secret); err != nil {
			return nil, fmt.Errorf("auth server: token secret: %w", err)
		}
	case len(opts.Secret) < 32:
		return nil, fmt.Errorf("auth server: token secret of %d bytes is too short (at least 32)", len(opts.Secret))
	default:
		opts.Secret = append([]byte(nil), opts.Secret...)
	}
	s := &Server{
		opts:   opts,
		replay: &replayCache{perClient: opts.ReplayCacheSize, clients: map[string]map[string]time.Time{}},
	}
	if opts.HTTPClient != nil {
		s.fetcher = &jwksFetcher{hc: opts.HTTPClient, ttl: time.Minute, now: opts.Now, entries: map[string]jwksEntry{}}
	}
	return s, nil
}

// tokenError is a token endpoint refusal.
type tokenError struct {
	status      int
	code        string
	description string
}

func (e *tokenError) Error() string { return e.code + ": " + e.description }

func invalidRequest(format string, a ...any) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, a...)}
}

func invalidClient(format string, a ...any) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_client", fmt.Sprintf(format, a...)}
}

// tokenResponse is the success body (SMART Backend Services).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in,omitempty"` // zero only under the OmitExpiresIn fault
	Scope       string `json:"scope"`
}

// TokenHandler serves the token endpoint.
func (s *Server) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeTokenError(w, &tokenError{http.StatusMethodNotAllowed, "invalid_request", "the token endpoint accepts POST only"})
			return
		}
		resp, err := s.issue(r)
		if err != nil {
			var te *tokenError
			if !errors.As(err, &te) {
				te = &tokenError{http.StatusInternalServerError, "server_error", "the token could not be issued"}
			}
			writeTokenError(w, te)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

func writeTokenError(w http.ResponseWriter, e *tokenError) {
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "60")
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Tokens and errors about them must not be cached (RFC 6749 §5.1).
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails
}

// issue runs the whole token request check and mints the access token.
func (s *Server) issue(r *http.Request) (*tokenResponse, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	if r.Header.Get("Authorization") != "" {
		return nil, invalidRequest("authenticate with client_assertion only, not also with the Authorization header")
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return nil, invalidRequest("grant_type is missing")
	case grantTypeClientCredentials:
	default:
		if s.opts.Faults.AcceptAnyGrantType {
			break
		}
		return nil, &tokenError{http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported; use client_credentials", truncate(gt))}
	}
	switch at := form.Get("client_assertion_type"); at {
	case "":
		return nil, invalidClient("client_assertion_type is missing")
	case assertionTypeJWTBearer:
	default:
		if s.opts.Faults.AcceptAnyAssertion {
			break
		}
		return nil, invalidClient("client_assertion_type %q is not supported; use %s", truncate(at), assertionTypeJWTBearer)
	}
	raw := form.Get("client_assertion")
	if raw == "" {
		return nil, invalidClient("client_assertion is missing")
	}
	client, err := s.verifyAssertion(r.Context(), raw, form.Get("client_id"))
	if err != nil {
		return nil, err
	}

	requested, err := splitScopes(form.Get("scope"))
	if err != nil {
		return nil, &tokenError{http.StatusBadRequest, "invalid_scope", err.Error()}
	}
	granted, refused := grantable(requested, client.Scopes)
	if len(refused) > 0 {
		return nil, &tokenError{http.StatusBadRequest, "invalid_scope", fmt.Sprintf("client %q may not be granted %s", client.ID, truncate(strings.Join(refused, " ")))}
	}
	scope := strings.Join(granted, " ")
	now := s.opts.Now()
	tok, err := s.mintToken(client.ID, scope, now)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken: tok,
		TokenType:   "bearer",
		ExpiresIn:   int64(s.opts.TokenTTL / time.Second),
		Scope:       scope,
	}
	if s.opts.Faults.OmitExpiresIn {
		resp.ExpiresIn = 0
	}
	return resp, nil
}

// readForm reads the urlencoded body, refusing anything RFC 6749 calls
// malformed: another media type, an oversized body, repeated parameters.
// Parameters in the query string are not read: credentials do not belong
// in URLs.
func readForm(r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil {
		return nil, invalidRequest("the request body could not be read")
	}
	if len(body) > maxForm {
		return nil, invalidRequest("the request body is larger than %d bytes", maxForm)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("the request body is not valid form encoding")
	}
	for name, values := range form {
		if len(values) > 1 {
			return nil, invalidRequest("parameter %q appears more than once", truncate(name))
		}
	}
	return form, nil
}

// verifyAssertion checks a client assertion per SMART Backend Services and
// returns the authenticated client. Every failure is invalid_client.
func (s *Server) verifyAssertion(ctx context.Context, raw, formClientID string) (*Client, error) {
	a, err := parseAssertion(raw)
	if err != nil {
		return nil, invalidClient("%s", err.Error())
	}
	h, c := a.header, a.claims
	confused := s.opts.Faults.TrustHeaderAlg && (h.Alg == "none" || h.Alg == "HS256")
	if !confused && h.Alg != algRS384 && h.Alg != algES384 {
		return nil, invalidClient("assertion algorithm %q is not accepted; use RS384 or ES384", truncate(h.Alg))
	}
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") && !strings.EqualFold(h.Typ, "application/jwt") {
		return nil, invalidClient("assertion typ %q is not JWT", truncate(h.Typ))
	}
	if h.Crit != nil {
		return nil, invalidClient("assertion header has critical extensions this server does not understand")
	}
	if c.Iss == "" || c.Sub == "" {
		return nil, invalidClient("assertion iss and sub must both name the client")
	}
	if c.Iss != c.Sub {
		return nil, invalidClient("assertion iss and sub differ; both must be the client id")
	}
	if formClientID != "" && formClientID != c.Iss {
		return nil, invalidClient("client_id does not match the assertion's iss")
	}
	client, ok := s.opts.Clients(c.Iss)
	if !ok || client == nil {
		return nil, invalidClient("unknown client %q", truncate(c.Iss))
	}
	if h.JKU != "" && h.JKU != client.JWKSURL {
		return nil, invalidClient("assertion jku is not the JWK set URL registered for the client")
	}

	keys, err := s.clientKeys(ctx, client)
	if err != nil {
		return nil, invalidClient("the client's keys could not be loaded: %s", err.Error())
	}
	if confused && !verifyConfused(h.Alg, h.Kid, keys, a.signingInput, a.signature) {
		return nil, invalidClient("assertion signature does not verify with the client's registered key")
	}
	var candidates []verificationKey
	for _, k := range keys {
		if k.Fits(h.Alg) && h.Kid != "" && k.KID == h.Kid {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 && !confused {
		if !s.opts.Faults.AcceptUnknownKid {
			return nil, invalidClient("no %s key with kid %q is registered for the client", h.Alg, truncate(h.Kid))
		}
		for _, k := range keys {
			if k.Fits(h.Alg) {
				candidates = append(candidates, k)
			}
		}
	}
	if !confused && !s.opts.Faults.AcceptBadSignature {
		verified := false
		for _, k := range candidates {
			if verifySignature(h.Alg, k.Key, a.signingInput, a.signature) {
				verified = true
				break
			}
		}
		if !verified {
			return nil, invalidClient("assertion signature does not verify with the client's registered key")
		}
	}

	if !s.opts.Faults.IgnoreAudience && !c.Aud.contains(s.opts.TokenURL) {
		return nil, invalidClient("assertion aud must be the token URL %s", s.opts.TokenURL)
	}
	now := s.opts.Now()
	skew := s.opts.ClockSkew
	if !s.opts.Faults.IgnoreExpiry {
		switch {
		case c.Exp == nil:
			return nil, invalidClient("assertion has no exp")
		case !now.Before(c.Exp.Add(skew)):
			return nil, invalidClient("assertion expired at %s", c.Exp.UTC().Format(time.RFC3339))
		case c.Exp.Sub(now) > maxAssertionLifetime+skew:
			return nil, invalidClient("assertion exp is more than 5 minutes ahead")
		}
	}
	if c.Nbf != nil && c.Nbf.After(now.Add(skew)) {
		return nil, invalidClient("assertion is not valid before %s", c.Nbf.UTC().Format(time.RFC3339))
	}
	if c.Iat != nil && c.Iat.After(now.Add(skew)) {
		return nil, invalidClient("assertion iat lies in the future")
	}
	if c.JTI == "" {
		return nil, invalidClient("assertion has no jti")
	}
	if !s.opts.Faults.AllowReplay {
		// Remember the jti as long as the assertion could be accepted. Under
		// IgnoreExpiry exp may be absent or absurd: keep the longest window.
		until := now.Add(maxAssertionLifetime + 2*skew)
		if c.Exp != nil && c.Exp.Add(skew).Before(until) {
			until = c.Exp.Add(skew)
		}
		switch s.replay.add(client.ID, c.JTI, now, until) {
		case replaySeen:
			return nil, invalidClient("assertion jti was already used")
		case replayFull:
			return nil, &tokenError{http.StatusServiceUnavailable, "temporarily_unavailable", "too many recent assertions for this client; retry later"}
		}
	}
	return client, nil
}

// clientKeys gathers the client's registered keys and, when fetching is
// enabled, those published at its registered JWK set URL.
func (s *Server) clientKeys(ctx context.Context, c *Client) ([]verificationKey, error) {
	var keys []verificationKey
	if len(c.JWKS) > 0 {
		k, err := parseJWKS(c.JWKS)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	if c.JWKSURL != "" && s.fetcher != nil {
		k, err := s.fetcher.keys(ctx, c.JWKSURL)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return keys, nil
}

// truncate keeps client-supplied strings short in error descriptions.
func truncate(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// randomID returns 128 random bits in hex.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
