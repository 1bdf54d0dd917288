package smart

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"

	"github.com/pdex-conform/pdex-conform/keys"
)

// The JWS compact serialisation is built here rather than with a JOSE
// library because conformance tests need tokens a library would refuse to
// produce: "alg":"none", HMAC keyed with a public key, a header that lies
// about the algorithm, a corrupted signature.

// encodeSegment returns the base64url (unpadded) JSON encoding of v.
func encodeSegment(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// signingMethod describes how a JWS "alg" value signs.
type signingMethod struct {
	hash  crypto.Hash
	kind  byte // 'R' RSASSA-PKCS1-v1_5, 'P' RSASSA-PSS, 'E' ECDSA, 'H' HMAC
	curve elliptic.Curve
}

func methodFor(alg string) (signingMethod, bool) {
	switch alg {
	case "RS256":
		return signingMethod{hash: crypto.SHA256, kind: 'R'}, true
	case keys.RS384:
		return signingMethod{hash: crypto.SHA384, kind: 'R'}, true
	case "RS512":
		return signingMethod{hash: crypto.SHA512, kind: 'R'}, true
	case "PS256":
		return signingMethod{hash: crypto.SHA256, kind: 'P'}, true
	case "PS384":
		return signingMethod{hash: crypto.SHA384, kind: 'P'}, true
	case "PS512":
		return signingMethod{hash: crypto.SHA512, kind: 'P'}, true
	case "ES256":
		return signingMethod{hash: crypto.SHA256, kind: 'E', curve: elliptic.P256()}, true
	case keys.ES384:
		return signingMethod{hash: crypto.SHA384, kind: 'E', curve: elliptic.P384()}, true
	case "ES512":
		return signingMethod{hash: crypto.SHA512, kind: 'E', curve: elliptic.P521()}, true
	case "HS256":
		return signingMethod{hash: crypto.SHA256, kind: 'H'}, true
	case "HS384":
		return signingMethod{hash: crypto.SHA384, kind: 'H'}, true
	case "HS512":
		return signingMethod{hash: crypto.SHA512, kind: 'H'}, true
	}
	return signingMethod{}, false
}

func newHash(h crypto.Hash) hash.Hash {
	switch h {
	case crypto.SHA256:
		return sha256.New()
	case crypto.SHA384:
		return sha512.New384()
	default:
		return sha512.New()
	}
}

// sign produces the JWS signature of input with alg. key signs the
// asymmetric algorithms, secret the HMAC ones.
func sign(alg string, key crypto.Signer, secret []byte, input string) ([]byte, error) {
	m, ok := methodFor(alg)
	if !ok {
		return nil, fmt.Errorf("cannot sign with algorithm %q", alg)
	}
	if m.kind == 'H' {
		if len(secret) == 0 {
			return nil, fmt.Errorf("%s needs an HMAC secret", alg)
		}
		mac := hmac.New(func() hash.Hash { return newHash(m.hash) }, secret)
		mac.Write([]byte(input))
		return mac.Sum(nil), nil
	}
	if key == nil {
		return nil, fmt.Errorf("%s needs a private key", alg)
	}
	h := newHash(m.hash)
	h.Write([]byte(input))
	digest := h.Sum(nil)
	switch m.kind {
	case 'R', 'P':
		if _, ok := key.Public().(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("%s needs an RSA key, have %T", alg, key.Public())
		}
		var opts crypto.SignerOpts = m.hash
		if m.kind == 'P' {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: m.hash}
		}
		sig, err := key.Sign(rand.Reader, digest, opts)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", alg, err)
		}
		return sig, nil
	default: // 'E'
		pub, ok := key.Public().(*ecdsa.PublicKey)
		if !ok || pub.Curve != m.curve {
			return nil, fmt.Errorf("%s needs an EC key on %s", alg, m.curve.Params().Name)
		}
		der, err := key.Sign(rand.Reader, digest, m.hash)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", alg, err)
		}
		return ecdsaRaw(der, (m.curve.Params().BitSize+7)/8)
	}
}

// ecdsaRaw converts an ASN.1 DER ECDSA signature (what crypto.Signer
// returns) into the JWS form: r and s as fixed-size big-endian integers,
// concatenated (RFC 7518 §3.4).
func ecdsaRaw(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil {
		return nil, fmt.Errorf("decode ECDSA signature: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("decode ECDSA signature: trailing data")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > size*8 || sig.S.BitLen() > size*8 {
		return nil, errors.New("decode ECDSA signature: r or s out of range")
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}
