package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Accepted signing algorithms. SMART Backend Services names exactly these;
// everything else (none, HS*, RS256, ...) is refused before any key is
// looked at, which is what defeats algorithm confusion.
const (
	algRS384 = "RS384"
	algES384 = "ES384"
)

// SigningAlgs lists the assertion algorithms the token endpoint accepts,
// for token_endpoint_auth_signing_alg_values_supported in discovery.
func SigningAlgs() []string { return []string{algRS384, algES384} }

const (
	minRSABits = 2048
	// maxJWKS bounds a fetched JWK set.
	maxJWKS = 64 << 10
)

// verificationKey is one usable public key from a client's JWK set.
type verificationKey struct {
	kid string
	alg string // the JWK's "alg", empty if it names none
	pub crypto.PublicKey
}

// parseJWKS reads a JWK set. Keys that are not RSA (>= 2048 bits) or EC
// P-384 signing keys are skipped, as RFC 7517 §5 asks of keys a reader does
// not understand; a set that is not JSON is an error.
func parseJWKS(data []byte) ([]verificationKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWK set: %w", err)
	}
	var keys []verificationKey
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		// A registration that mistakenly holds private parts still only
		// needs the public half.
		pub := jwk.Public()
		switch k := pub.Key.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < minRSABits {
				continue
			}
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P384() {
				continue
			}
		default:
			continue
		}
		keys = append(keys, verificationKey{kid: jwk.KeyID, alg: jwk.Algorithm, pub: pub.Key})
	}
	return keys, nil
}

// fits reports whether k can verify a signature made with alg.
func (k verificationKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch alg {
	case algRS384:
		_, ok := k.pub.(*rsa.PublicKey)
		return ok
	case algES384:
		_, ok := k.pub.(*ecdsa.PublicKey)
		return ok
	}
	return false
}

// verifySignature checks a JWS signature over input with alg and key.
func verifySignature(alg string, pub crypto.PublicKey, input string, sig []byte) bool {
	digest := sha512.Sum384([]byte(input))
	switch alg {
	case algRS384:
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(k, crypto.SHA384, digest[:], sig) == nil
	case algES384:
		k, ok := pub.(*ecdsa.PublicKey)
		// JWS carries r||s, each exactly 48 bytes for P-384 (RFC 7518 §3.4).
		if !ok || len(sig) != 96 {
			return false
		}
		r := new(big.Int).SetBytes(sig[:48])
		s := new(big.Int).SetBytes(sig[48:])
		return ecdsa.Verify(k, digest[:], r, s)
	}
	return false
}

// jwksFetcher dereferences registered JWK set URLs, caching each set for a
// short time so a burst of token requests costs one fetch.
type jwksFetcher struct {
	hc  *http.Client
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]jwksEntry
}

type jwksEntry struct {
	keys    []verificationKey
	fetched time.Time
}

// maxJWKSEntries bounds the cache; URLs come from registrations, so this
// is only a guard against a registry that changes constantly.
const maxJWKSEntries = 1024

func (f *jwksFetcher) keys(ctx context.Context, url string) ([]verificationKey, error) {
	now := f.now()
	f.mu.Lock()
	e, ok := f.entries[url]
	f.mu.Unlock()
	if ok && now.Sub(e.fetched) < f.ttl {
		return e.keys, nil
	}
	keys, err := f.fetch(ctx, url)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if len(f.entries) >= maxJWKSEntries {
		for u, old := range f.entries {
			if now.Sub(old.fetched) >= f.ttl {
				delete(f.entries, u)
			}
		}
		if len(f.entries) >= maxJWKSEntries {
			clear(f.entries)
		}
	}
	f.entries[url] = jwksEntry{keys: keys, fetched: now}
	f.mu.Unlock()
	return keys, nil
}

func (f *jwksFetcher) fetch(ctx context.Context, url string) ([]verificationKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWK set: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWK set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWK set %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWK set %s: %w", url, err)
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("fetch JWK set %s: larger than %d bytes", url, maxJWKS)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("fetch JWK set %s: %w", url, err)
	}
	if len(keys) == 0 {
		return nil, errors.New("fetch JWK set " + url + ": no usable key")
	}
	return keys, nil
}
