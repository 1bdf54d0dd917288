// Package keystest makes the signing keys that tests of the SMART client and
// of the key handling need: fresh keys of each kind a client may hold.
package keystest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// Keys are one RSA 2048 key (RS384), one P-384 key (ES384) and one P-256 key
// (which no SMART algorithm accepts).
type Keys struct {
	RSA   *rsa.PrivateKey
	EC    *ecdsa.PrivateKey
	EC256 *ecdsa.PrivateKey
}

// New generates a fresh set of keys, failing the test if it cannot.
func New(t testing.TB) Keys {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Keys{RSA: r, EC: e, EC256: e256}
}
