package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	client "github.com/pdex-conform/pdex-conform/client/smart"
)

// fuzzTokenURL and fuzzNow match the committed seed corpus
// (testdata/fuzz), whose assertions were made for this audience at this
// time by client "rs-client" with kid "rs-key-1".
const fuzzTokenURL = "https://reference.example/auth/token"

var fuzzNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fuzzServers returns a strict server and one with every fault switched on,
// so that mutated assertions whose signatures no longer verify still reach
// the claim checks.
func fuzzServers(f *testing.F) (strict, lax *Server, fx *fixture) {
	fx = newFixture(f)
	mk := func(faults Faults) *Server {
		s, err := New(Options{
			TokenURL: fuzzTokenURL,
			Clients:  fx.lookup,
			Now:      func() time.Time { return fuzzNow },
			Faults:   faults,
		})
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	return mk(Faults{}), mk(Faults{AcceptBadSignature: true, IgnoreAudience: true, IgnoreExpiry: true, AllowReplay: true, AcceptUnknownKid: true}), fx
}

// FuzzParseAssertion feeds arbitrary client assertions to the parser and
// the full verification: they must never panic, and every refusal must be
// a token endpoint error.
func FuzzParseAssertion(f *testing.F) {
	strict, lax, fx := fuzzServers(f)
	for _, opts := range []client.AssertionOptions{
		{}, {AlgNone: true}, {HS256Secret: []byte("k")}, {OmitExp: true},
		{ExtraClaims: map[string]any{"aud": []string{fuzzTokenURL}, "exp": 1.7672256e9}},
	} {
		opts.Now = fuzzNow
		for _, id := range []string{rsClientID, ecClientID} {
			a, err := fx.creds(id, fuzzTokenURL).Assertion(opts)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(a)
		}
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		a, perr := parseAssertion(raw)
		if perr == nil && (a == nil || strings.Count(raw, ".") != 2) {
			t.Fatalf("parse accepted %q without three parts", raw)
		}
		for _, s := range []*Server{strict, lax} {
			c, err := s.verifyAssertion(ctx, raw, "")
			var te *tokenError
			switch {
			case err == nil:
				if perr != nil || c == nil {
					t.Fatalf("verified an assertion the parser refused (%v)", perr)
				}
				if a.header.Alg != algRS384 && a.header.Alg != algES384 {
					t.Fatalf("verified an assertion with alg %q", a.header.Alg)
				}
			case !errors.As(err, &te):
				t.Fatalf("refusal %v is not a token endpoint error", err)
			case te.status != http.StatusBadRequest && te.status != http.StatusServiceUnavailable:
				t.Fatalf("refusal with HTTP %d", te.status)
			}
		}
	})
}

// FuzzTokenRequest feeds arbitrary bodies to the token endpoint: every
// answer is a JSON document with status 200 or 400, never a panic.
func FuzzTokenRequest(f *testing.F) {
	_, lax, fx := fuzzServers(f)
	a, err := fx.creds(rsClientID, fuzzTokenURL).Assertion(client.AssertionOptions{Now: fuzzNow})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(client.Form(a, "system/*.read").Encode())
	f.Add("grant_type=client_credentials&scope=system%2F%2A.read")
	f.Add("grant_type=%zz")
	f.Add("scope=a&scope=b")
	h := lax.TokenHandler()
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, fuzzTokenURL, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("HTTP %d for %q", w.Code, body)
		}
		if !strings.HasPrefix(w.Body.String(), "{") {
			t.Fatalf("body %q is not JSON", w.Body.String())
		}
	})
}
