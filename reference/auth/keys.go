package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/pdex-conform/pdex-conform/keys"
)

// Accepted signing algorithms. SMART Backend Services names exactly these;
// everything else (none, HS*, RS256, ...) is refused before any key is
// looked at, which is what defeats algorithm confusion.
const (
	algRS384 = keys.RS384
	algES384 = keys.ES384
)

// SigningAlgs lists the assertion algorithms the token endpoint accepts,
// for token_endpoint_auth_signing_alg_values_supported in discovery.
func SigningAlgs() []string { return []string{algRS384, algES384} }

// maxJWKS bounds a fetched JWK set.
const maxJWKS = 64 << 10

// verificationKey is one usable public key from a client's JWK set.
type verificationKey = keys.Public

// parseJWKS reads a client's JWK set (see keys.ParsePublicSet).
func parseJWKS(data []byte) ([]verificationKey, error) { return keys.ParsePublicSet(data) }

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
