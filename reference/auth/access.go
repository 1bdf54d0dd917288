package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Access tokens are "v1.<payload>.<mac>": the base64url JSON payload and
// its HMAC-SHA256 under the server secret. Clients treat them as opaque;
// the server verifies them without storing them, so they survive a restart
// as long as the secret does.
const (
	accessTokenVersion = "v1"
	accessTokenContext = "pdex-conform access token v1\n"
	// maxAccessToken bounds the bearer value examined.
	maxAccessToken = 4 << 10
)

type accessPayload struct {
	Client  string `json:"cid"`
	Scope   string `json:"scp"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
	ID      string `json:"jti"`
}

func (s *Server) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.opts.Secret)
	m.Write([]byte(accessTokenContext))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (s *Server) mintToken(clientID, scope string, now time.Time) (string, error) {
	id, err := randomID()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(accessPayload{
		Client:  clientID,
		Scope:   scope,
		Issued:  now.Unix(),
		Expires: now.Add(s.opts.TokenTTL).Unix(),
		ID:      id,
	})
	if err != nil {
		return "", fmt.Errorf("access token: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(b)
	return accessTokenVersion + "." + p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p)), nil
}

// Grant is what a valid access token allows.
type Grant struct {
	ClientID string
	Scopes   []string
	// Groups the client is entitled to, from its current registration.
	Groups  []string
	Expires time.Time
}

// CanRead reports whether the grant allows system-level read and search of
// every resource type (system/*.read, system/*.rs or broader), which a bulk
// export of a Group needs.
func (g *Grant) CanRead() bool { return g.CanReadType("*") }

// CanReadType reports whether the grant allows system-level read and
// search of resourceType ("*" for all types).
func (g *Grant) CanReadType(resourceType string) bool {
	want := scope{smart: true, context: "system", resource: resourceType, perms: "rs"}
	for _, s := range g.Scopes {
		if parseScope(s).covers(want) {
			return true
		}
	}
	return false
}

// Can reports whether the grant allows system-level access to resourceType
// with every one of perms (SMART v2 letters: c create, r read, u update, d
// delete, s search).
func (g *Grant) Can(resourceType, perms string) bool {
	want := scope{smart: true, context: "system", resource: resourceType, perms: perms}
	for _, s := range g.Scopes {
		if parseScope(s).covers(want) {
			return true
		}
	}
	return false
}

// EntitledTo reports whether the client may access the Group groupID.
func (g *Grant) EntitledTo(groupID string) bool { return slices.Contains(g.Groups, groupID) }

// AuthError is why a request carries no acceptable bearer token. Callers
// answer 401 with a WWW-Authenticate header set to Challenge().
type AuthError struct {
	// Missing is true when the request has no bearer token at all.
	Missing bool
	Reason  string
}

func (e *AuthError) Error() string {
	if e.Missing {
		return "no bearer token: " + e.Reason
	}
	return "invalid bearer token: " + e.Reason
}

// Challenge is the WWW-Authenticate value for the 401 (RFC 6750 §3): no
// error code when the request had no token, invalid_token otherwise.
func (e *AuthError) Challenge() string {
	if e.Missing {
		return "Bearer"
	}
	return `Bearer error="invalid_token", error_description="` + strings.Map(func(r rune) rune {
		// error_description allows %x20-21 / %x23-5B / %x5D-7E only.
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, e.Reason) + `"`
}

// Authenticate checks the request's bearer token and returns its grant.
// Every failure is an *AuthError.
func (s *Server) Authenticate(r *http.Request) (*Grant, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return nil, &AuthError{Missing: true, Reason: "the request has no Authorization header"}
	}
	if len(values) > 1 {
		return nil, &AuthError{Reason: "the request has more than one Authorization header"}
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, &AuthError{Missing: true, Reason: "the Authorization header does not use the Bearer scheme"}
	}
	tok = strings.TrimSpace(tok)
	return s.checkToken(tok)
}

func (s *Server) checkToken(tok string) (*Grant, error) {
	if tok == "" {
		return nil, &AuthError{Reason: "the bearer token is empty"}
	}
	if len(tok) > maxAccessToken {
		return nil, &AuthError{Reason: "the bearer token is too long"}
	}
	version, rest, ok1 := strings.Cut(tok, ".")
	p, mac, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || version != accessTokenVersion {
		return nil, &AuthError{Reason: "the bearer token is not one this server issued"}
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(mac)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return nil, &AuthError{Reason: "the bearer token is not one this server issued"}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return nil, &AuthError{Reason: "the bearer token is malformed"}
	}
	var pl accessPayload
	if err := json.Unmarshal(b, &pl); err != nil {
		return nil, &AuthError{Reason: "the bearer token is malformed"}
	}
	expires := time.Unix(pl.Expires, 0)
	if !s.opts.Now().Before(expires) {
		return nil, &AuthError{Reason: "the bearer token has expired"}
	}
	// The registration is read again so that removing a client, a scope or
	// a Group takes effect on tokens already issued.
	client, ok := s.opts.Clients(pl.Client)
	if !ok || client == nil {
		return nil, &AuthError{Reason: "the token's client is no longer registered"}
	}
	requested, err := splitScopes(pl.Scope)
	if err != nil {
		return nil, &AuthError{Reason: "the bearer token is malformed"}
	}
	granted, _ := grantable(requested, client.Scopes)
	if len(granted) == 0 {
		return nil, &AuthError{Reason: "the token's scopes are no longer allowed for the client"}
	}
	return &Grant{
		ClientID: client.ID,
		Scopes:   granted,
		Groups:   slices.Clone(client.Groups),
		Expires:  expires,
	}, nil
}
