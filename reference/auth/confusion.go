package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
)

// verifyConfused is the TrustHeaderAlg fault's verifier: it believes the
// header's algorithm. "none" needs no signature at all; HS256 is checked
// with the PEM encoding of a public key carrying kid as the HMAC secret,
// which anyone holding the public key can produce.
func verifyConfused(alg, kid string, keys []verificationKey, input string, sig []byte) bool {
	if alg == "none" {
		return len(sig) == 0
	}
	for _, k := range keys {
		if k.KID != kid {
			continue
		}
		der, err := x509.MarshalPKIXPublicKey(k.Key)
		if err != nil {
			continue
		}
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write([]byte(input))
		if hmac.Equal(mac.Sum(nil), sig) {
			return true
		}
	}
	return false
}
