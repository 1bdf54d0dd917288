// Package auth is the client side of SMART Backend Services (SMART App
// Launch 2.x, backend-services): private keys and JWKs, signed client
// assertions (including deliberately wrong ones for negative tests), the
// token request and a renewing token source.
package smart

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/pdex-conform/pdex-conform/keys"
)

// Form parameter values fixed by SMART Backend Services.
const (
	GrantTypeClientCredentials = "client_credentials"
	AssertionTypeJWTBearer     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// DefaultAssertionLifetime is how far ahead a correct assertion's exp lies.
// SMART allows at most five minutes; staying a minute short keeps a correct
// assertion correct when the server's clock runs a little behind ours, so a
// refusal then means the server is wrong, not the clocks.
const DefaultAssertionLifetime = 4 * time.Minute

// Credentials are what a registered backend client holds.
type Credentials struct {
	ClientID string
	KeyID    string
	// Alg is keys.RS384 or keys.ES384; empty means derived from Key.
	Alg      string
	Key      crypto.Signer
	TokenURL string
	// Scope requested by TokenSource, e.g. "system/*.read".
	Scope string
	// JKU, when set, is sent as the assertion's "jku" header; it must be the
	// JWKS URL registered for the client.
	JKU string
}

// alg returns the configured or derived signing algorithm.
func (c Credentials) alg() (string, error) {
	if c.Alg != "" {
		if c.Alg != keys.RS384 && c.Alg != keys.ES384 {
			return "", fmt.Errorf("credentials: algorithm %q is not %s or %s", c.Alg, keys.RS384, keys.ES384)
		}
		return c.Alg, nil
	}
	return keys.AlgFor(c.Key)
}

// PublicJWKS returns the JWK set a server registers for these credentials.
func (c Credentials) PublicJWKS() ([]byte, error) {
	alg, err := c.alg()
	if err != nil {
		return nil, err
	}
	jwk, err := keys.PublicJWK(c.Key, c.KeyID, alg)
	if err != nil {
		return nil, err
	}
	return keys.Set(jwk)
}

// AssertionOptions adjusts a client assertion. The zero value yields a
// correct assertion; every other field breaks it in one named way so that
// negative tests can show a server refuses it.
type AssertionOptions struct {
	// Now is the time the assertion is made; zero means time.Now().
	Now time.Time
	// Audience, Issuer, Subject and JTI replace the correct claim values
	// (token URL, client id, client id, 128 random bits).
	Audience, Issuer, Subject, JTI string
	// Alg sets both the header "alg" and the algorithm actually used to sign
	// (any of RS/PS/ES 256/384/512; the key must fit). HeaderAlg then
	// overrides only what the header claims.
	Alg, HeaderAlg string
	// KeyID, Typ and JKU replace the header values from the credentials
	// ("typ" is "JWT" by default).
	KeyID, Typ, JKU string
	// ExpiresIn places exp relative to Now; zero means
	// DefaultAssertionLifetime, negative means already expired.
	ExpiresIn time.Duration
	// OmitExp, OmitJTI, OmitKid and OmitTyp leave that member out.
	OmitExp, OmitJTI, OmitKid, OmitTyp bool
	// SignWith signs with another key than the credentials' one.
	SignWith crypto.Signer
	// AlgNone produces an unsigned token with "alg":"none".
	AlgNone bool
	// HS256Secret signs with HMAC-SHA256 keyed with these bytes and sets
	// "alg":"HS256" (the algorithm-confusion attack uses the public key).
	HS256Secret []byte
	// CorruptSignature flips a bit of the otherwise valid signature.
	CorruptSignature bool
	// ExtraHeader and ExtraClaims are added last, replacing members of the
	// same name.
	ExtraHeader, ExtraClaims map[string]any
}

// Assertion builds and signs a client assertion (a JWS compact
// serialisation) for the token endpoint.
func (c Credentials) Assertion(opts AssertionOptions) (string, error) {
	if c.ClientID == "" {
		return "", errors.New("assertion: credentials have no client id")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}

	alg := opts.Alg
	if alg == "" {
		a, err := c.alg()
		if err != nil {
			return "", fmt.Errorf("assertion: %w", err)
		}
		alg = a
	}
	var secret []byte
	switch {
	case opts.AlgNone:
		alg = "none"
	case opts.HS256Secret != nil:
		alg, secret = "HS256", opts.HS256Secret
	}

	header := map[string]any{"alg": alg, "typ": "JWT"}
	if opts.HeaderAlg != "" {
		header["alg"] = opts.HeaderAlg
	}
	if opts.Typ != "" {
		header["typ"] = opts.Typ
	}
	if opts.OmitTyp {
		delete(header, "typ")
	}
	if kid := pick(opts.KeyID, c.KeyID); kid != "" && !opts.OmitKid {
		header["kid"] = kid
	}
	if jku := pick(opts.JKU, c.JKU); jku != "" {
		header["jku"] = jku
	}
	for k, v := range opts.ExtraHeader {
		header[k] = v
	}

	aud := pick(opts.Audience, c.TokenURL)
	if aud == "" {
		return "", errors.New("assertion: no token URL for the audience")
	}
	claims := map[string]any{
		"iss": pick(opts.Issuer, c.ClientID),
		"sub": pick(opts.Subject, c.ClientID),
		"aud": aud,
	}
	if !opts.OmitExp {
		life := opts.ExpiresIn
		if life == 0 {
			life = DefaultAssertionLifetime
		}
		claims["exp"] = now.Add(life).Unix()
	}
	if !opts.OmitJTI {
		jti := opts.JTI
		if jti == "" {
			var err error
			if jti, err = randomID(); err != nil {
				return "", fmt.Errorf("assertion: %w", err)
			}
		}
		claims["jti"] = jti
	}
	for k, v := range opts.ExtraClaims {
		claims[k] = v
	}

	h, err := encodeSegment(header)
	if err != nil {
		return "", fmt.Errorf("assertion header: %w", err)
	}
	p, err := encodeSegment(claims)
	if err != nil {
		return "", fmt.Errorf("assertion claims: %w", err)
	}
	input := h + "." + p
	if alg == "none" {
		return input + ".", nil
	}
	key := c.Key
	if opts.SignWith != nil {
		key = opts.SignWith
	}
	sig, err := sign(alg, key, secret, input)
	if err != nil {
		return "", fmt.Errorf("assertion: %w", err)
	}
	if opts.CorruptSignature && len(sig) > 0 {
		sig[len(sig)/2] ^= 0x01
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Form returns the token request body of SMART Backend Services.
func Form(assertion, scope string) url.Values {
	return url.Values{
		"grant_type":            {GrantTypeClientCredentials},
		"scope":                 {scope},
		"client_assertion_type": {AssertionTypeJWTBearer},
		"client_assertion":      {assertion},
	}
}

func pick(override, def string) string {
	if override != "" {
		return override
	}
	return def
}

// randomID returns 128 random bits in hex, enough that a jti never repeats.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
