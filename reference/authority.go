package reference

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/reference/auth"
)

// TestClient is a client registered with the reference server at first
// start, with its private key, so that `serve --write-config` can hand a run
// everything it needs. A real payer registers providers' public keys only.
type TestClient struct {
	ID         string   `json:"id"`
	KeyID      string   `json:"kid"`
	Alg        string   `json:"alg"`
	PrivateKey string   `json:"privateKey"` // PEM
	Groups     []string `json:"groups"`     // Group ids it may export
	Scopes     []string `json:"scopes"`
}

// authority holds the registered clients and the SMART token service.
type authority struct {
	srv     *auth.Server
	clients []TestClient
	byID    map[string]*auth.Client
}

// Client ids of the test clients: the first is entitled to every Group, the
// second only to the last one (for isolation tests).
const (
	TestClientID  = "pdex-conform-client"
	OtherClientID = "pdex-conform-other-client"
)

func newAuthority(ctx context.Context, s *Server) (*authority, error) {
	secret, err := s.store.setting(ctx, "token-secret", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	groups, err := s.groupIDs(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := s.store.setting(ctx, "clients", func() ([]byte, error) {
		return makeTestClients(groups)
	})
	if err != nil {
		return nil, err
	}
	a := &authority{byID: map[string]*auth.Client{}}
	if err := json.Unmarshal(raw, &a.clients); err != nil {
		return nil, fmt.Errorf("reading registered clients: %w", err)
	}
	for _, c := range a.clients {
		key, err := keys.ParsePrivate([]byte(c.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", c.ID, err)
		}
		jwk, err := keys.PublicJWK(key, c.KeyID, c.Alg)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", c.ID, err)
		}
		jwks, err := keys.Set(jwk)
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", c.ID, err)
		}
		a.byID[c.ID] = &auth.Client{ID: c.ID, JWKS: jwks, Scopes: c.Scopes, Groups: c.Groups}
	}
	a.srv, err = auth.New(auth.Options{
		TokenURL: s.opts.BaseURL + "/auth/token",
		Clients: func(id string) (*auth.Client, bool) {
			c, ok := a.byID[id]
			if !ok && s.faults.has(FaultAcceptUnknownClient) {
				// The fault: an unknown client id falls back to the
				// first registered client instead of being refused.
				c, ok = a.byID[a.clients[0].ID]
			}
			return c, ok
		},
		Now:    s.now,
		Secret: secret,
		Faults: auth.Faults{
			AcceptBadSignature: s.faults.has(FaultAcceptBadSignature),
			IgnoreAudience:     s.faults.has(FaultIgnoreAudience),
			IgnoreExpiry:       s.faults.has(FaultIgnoreExpiry),
			AllowReplay:        s.faults.has(FaultAllowReplay),
			AcceptUnknownKid:   s.faults.has(FaultAcceptUnknownKid),
			AcceptAnyGrantType: s.faults.has(FaultAcceptWrongGrantType),
			AcceptAnyAssertion: s.faults.has(FaultAcceptWrongAssertType),
			TrustHeaderAlg:     s.faults.has(FaultTrustHeaderAlg),
			OmitExpiresIn:      s.faults.has(FaultTokenWithoutExpiresIn),
		},
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// makeTestClients registers an RS384 client for every Group and an ES384
// client for the last Group only.
func makeTestClients(groups []string) ([]byte, error) {
	if len(groups) == 0 {
		return nil, errors.New("the data set holds no Group")
	}
	specs := []struct {
		id, kid, alg string
		groups       []string
	}{
		{TestClientID, "test-key-rs384", "RS384", groups},
		{OtherClientID, "other-key-es384", "ES384", groups[len(groups)-1:]},
	}
	var out []TestClient
	for _, sp := range specs {
		key, err := keys.Generate(sp.alg)
		if err != nil {
			return nil, err
		}
		pem, err := keys.PrivatePEM(key)
		if err != nil {
			return nil, err
		}
		out = append(out, TestClient{
			ID: sp.id, KeyID: sp.kid, Alg: sp.alg, PrivateKey: string(pem),
			Groups: sp.groups, Scopes: []string{"system/*.read", "system/*.rs", "system/Consent.cud"},
		})
	}
	return json.Marshal(out)
}

func (a *authority) tokenHandler() http.Handler { return a.srv.TokenHandler() }

// TestClients returns the registered test clients with their private keys.
func (s *Server) TestClients() []TestClient { return s.auth.clients }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.opts.BaseURL + "/auth/token" }

// caller is who made a request: its client id and what it may do.
type caller struct {
	clientID string
	grant    *auth.Grant // nil when the no-auth fault is on
	// anyGroup is the ignore-entitlement fault.
	anyGroup bool
}

func (c *caller) entitledTo(group string) bool {
	return c.grant == nil || c.anyGroup || c.grant.EntitledTo(group)
}

// authorized wraps a FHIR endpoint: a valid bearer token with a read scope
// is required (401 without, 403 with a scope that does not permit reading).
func (s *Server) authorized(h func(http.ResponseWriter, *http.Request, *caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.faults.has(FaultNoAuth) {
			h(w, r, &caller{clientID: TestClientID})
			return
		}
		g, err := s.auth.srv.Authenticate(r)
		if err != nil {
			unauthorized(w, err)
			return
		}
		if !g.CanRead() {
			writeOutcome(w, http.StatusForbidden, "forbidden", "the token's scope does not permit reading: need system/*.read or system/*.rs")
			return
		}
		h(w, r, &caller{clientID: g.ClientID, grant: g, anyGroup: s.faults.has(FaultIgnoreEntitlement)})
	}
}

// fileCaller authenticates a file download: the same token rules as the
// kick-off, because the manifest says requiresAccessToken (§pdex-377).
func (s *Server) fileCaller(r *http.Request) (*caller, error) {
	if s.faults.has(FaultNoAuth) || s.faults.has(FaultFilesWithoutToken) {
		return nil, nil
	}
	g, err := s.auth.srv.Authenticate(r)
	if err != nil {
		return nil, err
	}
	return &caller{clientID: g.ClientID, grant: g}, nil
}

// unauthorized answers 401 with the challenge RFC 6750 asks for.
func unauthorized(w http.ResponseWriter, err error) {
	challenge := "Bearer"
	var ae *auth.AuthError
	if errors.As(err, &ae) {
		challenge = ae.Challenge()
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeOutcome(w, http.StatusUnauthorized, "login", "a valid bearer token is required: "+err.Error())
}
