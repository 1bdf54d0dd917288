package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	client "github.com/pdex-conform/pdex-conform/client/smart"
)

// issue gets a token for scope from the server over HTTP.
func (f *fixture) issue(t *testing.T, ts *httptest.Server, id, scope string) string {
	t.Helper()
	tokenURL := ts.URL + "/auth/token"
	res := postForm(t, ts.Client(), tokenURL, withAssertion(id, scope, client.AssertionOptions{}, nil)(t, f, tokenURL))
	if res.status != 200 {
		t.Fatalf("token: HTTP %d %s", res.status, res.raw)
	}
	return res.body["access_token"].(string)
}

func bearer(header string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/Group/g1", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	s, ts := f.server(t, nil)
	tok := f.issue(t, ts, rsClientID, "system/*.read")

	g, err := s.Authenticate(bearer("Bearer " + tok))
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if g.ClientID != rsClientID || !g.CanRead() || !g.EntitledTo("group-"+rsClientID) || g.EntitledTo("group-"+ecClientID) {
		t.Errorf("grant = %+v: want client %s, read, entitled to its own Group only", g, rsClientID)
	}
	if want := f.clock.Now().Add(300 * time.Second); !g.Expires.Equal(want) {
		t.Errorf("expires %v, want %v", g.Expires, want)
	}
	if _, err := s.Authenticate(bearer("bearer " + tok)); err != nil {
		t.Errorf("the scheme name is case-insensitive (RFC 7235), got %v", err)
	}

	// A token from a server with another secret.
	other, err := New(Options{TokenURL: "https://other.example/token", Clients: f.lookup, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.mintToken(rsClientID, "system/*.read", f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The same token claiming a broader scope, MAC unchanged.
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte(`"system/*.read"`), []byte(`"system/*.*"`), 1)
	widened := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	for _, tc := range []struct {
		name    string
		header  string
		missing bool
	}{
		{"no Authorization header", "", true},
		{"Basic scheme", "Basic cnMtY2xpZW50OnNlY3JldA==", true},
		{"empty bearer", "Bearer ", false},
		{"tampered payload", "Bearer " + widened, false},
		{"tampered MAC", "Bearer " + tok[:len(tok)-2] + flip(tok[len(tok)-2:]), false},
		{"forged with another secret", "Bearer " + forged, false},
		{"not a token", "Bearer abc.def", false},
		{"oversize", "Bearer " + strings.Repeat("a", 5000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Authenticate(bearer(tc.header))
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an *AuthError", err)
			}
			if ae.Missing != tc.missing {
				t.Errorf("Missing = %v, want %v", ae.Missing, tc.missing)
			}
			ch := ae.Challenge()
			if !strings.HasPrefix(ch, "Bearer") || (!tc.missing && !strings.Contains(ch, `error="invalid_token"`)) {
				t.Errorf("challenge %q", ch)
			}
		})
	}

	t.Run("two Authorization headers", func(t *testing.T) {
		r := bearer("Bearer " + tok)
		r.Header.Add("Authorization", "Bearer "+tok)
		if _, err := s.Authenticate(r); err == nil {
			t.Error("accepted")
		}
	})

	t.Run("survives a restart with the same secret", func(t *testing.T) {
		again, err := New(Options{TokenURL: ts.URL + "/auth/token", Clients: f.lookup, Now: f.clock.Now,
			Secret: []byte("0123456789abcdef0123456789abcdef")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := again.Authenticate(bearer("Bearer " + tok)); err != nil {
			t.Errorf("token refused after restart: %v", err)
		}
	})

	t.Run("expired", func(t *testing.T) {
		f.clock.Advance(299 * time.Second)
		if _, err := s.Authenticate(bearer("Bearer " + tok)); err != nil {
			t.Fatalf("refused a second before expiry: %v", err)
		}
		f.clock.Advance(time.Second)
		_, err := s.Authenticate(bearer("Bearer " + tok))
		var ae *AuthError
		if !errors.As(err, &ae) || !strings.Contains(ae.Reason, "expired") {
			t.Errorf("got %v, want an expiry error", err)
		}
	})
}

func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestAuthenticateFollowsRegistration(t *testing.T) {
	f := newFixture(t)
	s, ts := f.server(t, nil)
	narrow := f.issue(t, ts, ecClientID, "system/Patient.rs system/Group.read")
	g, err := s.Authenticate(bearer("Bearer " + narrow))
	if err != nil {
		t.Fatal(err)
	}
	if g.CanRead() || !g.CanReadType("Patient") || !g.CanReadType("Group") || g.CanReadType("Observation") {
		t.Errorf("grant %v: want Patient and Group only", g.Scopes)
	}

	tok := f.issue(t, ts, ecClientID, "system/*.read")
	f.clients[ecClientID].Scopes = []string{"system/Patient.read"}
	g, err = s.Authenticate(bearer("Bearer " + tok))
	if err == nil && g.CanRead() {
		t.Errorf("a scope withdrawn from the registration is still granted: %v", g.Scopes)
	}
	delete(f.clients, ecClientID)
	if _, err := s.Authenticate(bearer("Bearer " + tok)); err == nil {
		t.Error("a token of a removed client is accepted")
	}
}

func TestScopes(t *testing.T) {
	for _, tc := range []struct {
		allowed, requested string
		want               bool
	}{
		{"system/*.read", "system/*.read", true},
		{"system/*.read", "system/*.rs", true},
		{"system/*.rs", "system/*.read", true},
		{"system/*.rs", "system/*.r", true},
		{"system/*.read", "system/Patient.read", true},
		{"system/*.read", "system/Patient.s", true},
		{"system/*.read", "system/*.cruds", false},
		{"system/*.read", "system/*.write", false},
		{"system/*.read", "patient/*.read", false},
		{"system/*.*", "system/Observation.cud", true},
		{"system/Patient.read", "system/*.read", false},
		{"system/Observation.rs?category=laboratory", "system/Observation.rs", false},
		{"system/Observation.rs", "system/Observation.rs?category=laboratory", true},
		{"system/*.read", "system/*.sr", false}, // v2 letters out of order are not a scope
		{"system/*.read", "system/patient.read", false},
		{"launch", "launch", true},
		{"system/*.read", "launch", false},
	} {
		got, _ := grantable([]string{tc.requested}, []string{tc.allowed})
		if (len(got) == 1) != tc.want {
			t.Errorf("allowed %q, requested %q: granted %v, want %v", tc.allowed, tc.requested, got, tc.want)
		}
	}
	var tooMany []string
	for i := range maxScopes + 1 {
		tooMany = append(tooMany, fmt.Sprintf("system/Type%c.read", 'A'+i%26)+strings.Repeat("x", i/26))
	}
	for _, bad := range []string{"", "   ", "system/*.read \"x\"", "a\\b", strings.Join(tooMany, " ")} {
		if _, err := splitScopes(bad); err == nil {
			t.Errorf("splitScopes(%q) accepted", bad)
		}
	}
}
