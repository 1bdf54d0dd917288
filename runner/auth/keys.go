package auth

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

// ParsePrivateKey reads a private key given as PEM (PKCS#1 "RSA PRIVATE KEY",
// PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY") or as a JWK holding the
// private parts (a lone JWK, or a JWK set with exactly one key).
// Only RSA and ECDSA keys are accepted: those are what RS384 and ES384 need.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
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

// AlgForKey names the SMART algorithm a key signs with: RS384 for RSA keys of
// at least MinRSABits, ES384 for P-384 keys.
func AlgForKey(key crypto.Signer) (string, error) {
	if key == nil {
		return "", errors.New("no key")
	}
	switch pub := key.Public().(type) {
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

// GenerateKey creates a fresh key for alg (RS384: RSA 2048, ES384: P-384).
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case RS384:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, fmt.Errorf("generate key: unsupported algorithm %q (want %s or %s)", alg, RS384, ES384)
	}
}

// MarshalPrivateKeyPEM encodes a key as a PKCS#8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeyPEM encodes a public key as a "PUBLIC KEY" (SubjectPublicKeyInfo)
// PEM block. These are the bytes an algorithm-confusion attack uses as an
// HMAC secret, so negative tests need them.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
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
		a, err := AlgForKey(key)
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

// JWKS wraps JWKs (as produced by PublicJWK) in a JWK set: {"keys":[...]}.
func JWKS(jwks ...[]byte) ([]byte, error) {
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(jwks))}
	for i, k := range jwks {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(k, &obj); err != nil {
			return nil, fmt.Errorf("JWKS: key %d is not a JSON object: %w", i, err)
		}
		for _, private := range []string{"d", "k", "p", "q"} {
			if _, ok := obj[private]; ok {
				return nil, fmt.Errorf("JWKS: key %d holds private or secret parts (%q)", i, private)
			}
		}
		set.Keys = append(set.Keys, json.RawMessage(k))
	}
	return json.Marshal(set)
}
