// Package keys reads, makes and writes the signing keys of SMART Backend
// Services (RS384 and ES384): a client's private key as PEM or JWK, public
// JWKs and JWK sets. The SMART client signs with them and the reference
// server's token endpoint verifies with them; both read keys here, so that
// a key one accepts the other reads the same way.
package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
)

// Signing algorithms that SMART Backend Services requires servers to support.
const (
	RS384 = "RS384"
	ES384 = "ES384"
)

// MinRSABits is the smallest RSA modulus accepted for RS384. SMART defers to
// the JWA guidance, which asks for at least 2048 bits.
const MinRSABits = 2048

// ParsePrivate reads a private key given as PEM (PKCS#1 "RSA PRIVATE KEY",
// PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY") or as a JWK holding the
// private parts (a lone JWK, or a JWK set with exactly one key).
// Only RSA and ECDSA keys are accepted: those are what RS384 and ES384 need.
func ParsePrivate(data []byte) (crypto.Signer, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		key, _, _, err := ParsePrivateJWK(trimmed)
		return key, err
	}
	return parsePEMPrivateKey(trimmed)
}

func parsePEMPrivateKey(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("parse private key: no PEM private key block and not a JWK")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, errors.New("parse private key: encrypted PEM keys are not supported; decrypt the key first")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#1 private key: %w", err)
			}
			return checkSigner(k)
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse SEC1 EC private key: %w", err)
			}
			return checkSigner(k)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
			}
			return checkSigner(k)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("parse private key: encrypted PKCS#8 keys are not supported; decrypt the key first")
		}
		// Other blocks (openssl's "EC PARAMETERS", certificates) may precede
		// the key in the same file: skip them.
	}
}

// checkSigner accepts the key types this package can sign with.
func checkSigner(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("parse private key: unsupported key type %T (want RSA or ECDSA)", k)
	}
}

// ParsePrivateJWK reads a JWK (or a JWK set holding exactly one key) with its
// private parts and returns the key with the JWK's "kid" and "alg", which
// may be empty.
func ParsePrivateJWK(data []byte) (key crypto.Signer, kid, alg string, err error) {
	var probe struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, "", "", fmt.Errorf("parse JWK: %w", err)
	}
	if probe.Keys != nil {
		if len(probe.Keys) != 1 {
			return nil, "", "", fmt.Errorf("parse JWK: the key set holds %d keys; give exactly one", len(probe.Keys))
		}
		data = probe.Keys[0]
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, "", "", fmt.Errorf("parse JWK: %w", err)
	}
	if jwk.IsPublic() {
		return nil, "", "", errors.New("parse JWK: the key has no private parts (\"d\")")
	}
	signer, err := checkSigner(jwk.Key)
	if err != nil {
		return nil, "", "", err
	}
	return signer, jwk.KeyID, jwk.Algorithm, nil
}

// AlgFor names the SMART algorithm a key signs with: RS384 for RSA keys of
// at least MinRSABits, ES384 for P-384 keys.
func AlgFor(key crypto.Signer) (string, error) {
	if key == nil {
		return "", errors.New("no key")
	}
	return algForPublic(key.Public())
}

func algForPublic(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return "", fmt.Errorf("RSA key of %d bits is too small (at least %d)", pub.N.BitLen(), MinRSABits)
		}
		return RS384, nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P384() {
			return "", fmt.Errorf("EC key on %s cannot sign ES384 (needs P-384)", pub.Curve.Params().Name)
		}
		return ES384, nil
	default:
		return "", fmt.Errorf("unsupported key type %T", pub)
	}
}

// Generate creates a fresh key for alg (RS384: RSA 2048, ES384: P-384).
func Generate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS384:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, fmt.Errorf("generate key: unsupported algorithm %q (want %s or %s)", alg, RS384, ES384)
	}
}

// PrivatePEM encodes a key as a PKCS#8 "PRIVATE KEY" PEM block.
func PrivatePEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicPEM encodes a public key as a "PUBLIC KEY" (SubjectPublicKeyInfo)
// PEM block. These are the bytes an algorithm-confusion attack uses as an
// HMAC secret, so negative tests need them.
func PublicPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// PublicJWK returns the public half of key as a JWK with "kid", "alg" and
// "use": "sig". An empty alg is derived from the key.
func PublicJWK(key crypto.Signer, kid, alg string) ([]byte, error) {
	if key == nil {
		return nil, errors.New("public JWK: no key")
	}
	if alg == "" {
		a, err := AlgFor(key)
		if err != nil {
			return nil, fmt.Errorf("public JWK: %w", err)
		}
		alg = a
	}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
	b, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("public JWK: %w", err)
	}
	return b, nil
}

// Set wraps JWKs (as produced by PublicJWK) in a JWK set: {"keys":[...]}.
func Set(jwks ...[]byte) ([]byte, error) {
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(jwks))}
	for i, k := range jwks {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(k, &obj); err != nil {
			return nil, fmt.Errorf("Set: key %d is not a JSON object: %w", i, err)
		}
		for _, private := range []string{"d", "k", "p", "q"} {
			if _, ok := obj[private]; ok {
				return nil, fmt.Errorf("Set: key %d holds private or secret parts (%q)", i, private)
			}
		}
		set.Keys = append(set.Keys, json.RawMessage(k))
	}
	return json.Marshal(set)
}

// Public is one usable verification key of a JWK set.
type Public struct {
	// KID and Alg are the JWK's "kid" and "alg"; either may be empty.
	KID, Alg string
	Key      crypto.PublicKey
}

// ParsePublicSet reads a JWK set and returns its signing keys that RS384 or
// ES384 can verify with: RSA keys of at least MinRSABits and P-384 keys.
// Others (other curves, encryption keys, symmetric keys) are skipped, as
// RFC 7517 §5 asks of keys a reader does not understand; a set that is not
// JSON is an error. A key that mistakenly carries private parts still only
// contributes its public half.
func ParsePublicSet(data []byte) ([]Public, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWK set: %w", err)
	}
	var out []Public
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		pub := jwk.Public()
		if pub.Key == nil {
			continue
		}
		if _, err := algForPublic(pub.Key); err != nil {
			continue
		}
		out = append(out, Public{KID: jwk.KeyID, Alg: jwk.Algorithm, Key: pub.Key})
	}
	return out, nil
}

// Fits reports whether k can verify a signature made with alg: the key's
// own alg, when it names one, must be alg, and its type must match.
func (k Public) Fits(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	got, err := algForPublic(k.Key)
	return err == nil && got == alg
}

// Strangers hands out keys that no server has registered, one per
// algorithm, made on first use and kept: the specs that prove a server
// refuses a signature by an unregistered key need only that it is not the
// client's. An RSA key takes a tenth of a second or more to make, so runs
// made in one process (the runner's fault tables) share one. A nil
// *Strangers makes a fresh key each time.
type Strangers struct {
	mu   sync.Mutex
	made map[string]crypto.Signer
}

// Key returns the stranger's key for alg.
func (s *Strangers) Key(alg string) (crypto.Signer, error) {
	if s == nil {
		return Generate(alg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.made[alg]; ok {
		return k, nil
	}
	k, err := Generate(alg)
	if err != nil {
		return nil, err
	}
	if s.made == nil {
		s.made = map[string]crypto.Signer{}
	}
	s.made[alg] = k
	return k, nil
}
