package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/pdex-conform/pdex-conform/keys/keystest"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func mustJSON(t testing.TB, v interface{ MarshalJSON() ([]byte, error) }) []byte {
	t.Helper()
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePrivateKey(t *testing.T) {
	k := keystest.New(t)
	pkcs8 := func(key any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(k.EC)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := mustJSON(t, jose.JSONWebKey{Key: k.RSA, KeyID: "r1", Algorithm: RS384})
	ecJWK := mustJSON(t, jose.JSONWebKey{Key: k.EC, KeyID: "e1"})
	pubJWK := mustJSON(t, jose.JSONWebKey{Key: k.RSA.Public(), KeyID: "r1"})

	for _, tc := range []struct {
		name string
		data []byte
		want crypto.Signer // nil: must fail
		err  string
	}{
		{"PKCS#1 PEM", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.RSA)), k.RSA, ""},
		{"PKCS#8 PEM, RSA", pemBlock("PRIVATE KEY", pkcs8(k.RSA)), k.RSA, ""},
		{"PKCS#8 PEM, EC", pemBlock("PRIVATE KEY", pkcs8(k.EC)), k.EC, ""},
		{"SEC1 PEM after EC PARAMETERS", append(pemBlock("EC PARAMETERS", []byte{6, 5, 43, 129, 4, 0, 34}), pemBlock("EC PRIVATE KEY", sec1)...), k.EC, ""},
		{"JWK, RSA", rsaJWK, k.RSA, ""},
		{"JWK, EC, surrounded by whitespace", append(append([]byte("\n  "), ecJWK...), '\n'), k.EC, ""},
		{"JWK set of one", []byte(`{"keys":[` + string(ecJWK) + `]}`), k.EC, ""},
		{"JWK set of two", []byte(`{"keys":[` + string(ecJWK) + `,` + string(rsaJWK) + `]}`), nil, "exactly one"},
		{"public JWK", pubJWK, nil, "no private parts"},
		{"Ed25519 PKCS#8", pemBlock("PRIVATE KEY", pkcs8(edKey)), nil, "unsupported key type"},
		{"encrypted PKCS#8", pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2}), nil, "encrypted"},
		{"certificate only", pemBlock("CERTIFICATE", []byte{1, 2}), nil, "no PEM private key"},
		{"garbage", []byte("not a key"), nil, "no PEM private key"},
		{"broken JSON", []byte(`{"kty":`), nil, "parse JWK"},
		{"corrupt PKCS#1", pemBlock("RSA PRIVATE KEY", []byte{0x30, 0x03, 1, 2, 3}), nil, "PKCS#1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrivate(tc.data)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq, ok := got.(interface{ Equal(crypto.PrivateKey) bool })
			if !ok || !eq.Equal(tc.want) {
				t.Errorf("parsed a different key")
			}
		})
	}

	_, kid, alg, err := ParsePrivateJWK(rsaJWK)
	if err != nil || kid != "r1" || alg != RS384 {
		t.Errorf("ParsePrivateJWK: kid %q alg %q err %v", kid, alg, err)
	}
}

func TestAlgForKey(t *testing.T) {
	k := keystest.New(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  crypto.Signer
		want string
	}{{k.RSA, RS384}, {k.EC, ES384}, {k.EC256, ""}, {small, ""}} {
		got, err := AlgFor(tc.key)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%T: %q, %v; want %q", tc.key.Public(), got, err, tc.want)
		}
	}
}

func TestPublicJWKS(t *testing.T) {
	k := keystest.New(t)
	ecJWK, err := PublicJWK(k.EC, "e1", "")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Set(ecJWK)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(set), `"d"`) {
		t.Fatalf("the public set leaks the private key: %s", set)
	}
	var parsed jose.JSONWebKeySet
	if err := json.Unmarshal(set, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Keys) != 1 {
		t.Fatalf("%d keys", len(parsed.Keys))
	}
	got := parsed.Keys[0]
	pub, ok := got.Key.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(k.EC.Public()) || got.KeyID != "e1" || got.Algorithm != ES384 || got.Use != "sig" {
		t.Errorf("JWK = %+v", got)
	}

	rsaJWK, err := PublicJWK(k.RSA, "r1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Set(rsaJWK, mustJSON(t, jose.JSONWebKey{Key: k.RSA})); err == nil {
		t.Error("Set accepted a private key")
	}
	if _, err := Set([]byte("[1]")); err == nil {
		t.Error("Set accepted a non-object")
	}
	if _, err := PublicJWK(k.EC256, "x", ""); err == nil {
		t.Error("PublicJWK derived an algorithm for a P-256 key")
	}
}

func TestGenerateAndMarshal(t *testing.T) {
	for _, alg := range []string{RS384, ES384} {
		key, err := Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		p, err := PrivatePEM(key)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrivate(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := AlgFor(back); got != alg {
			t.Errorf("round trip of a %s key gives %s", alg, got)
		}
	}
	if _, err := Generate("HS256"); err == nil {
		t.Error("Generate accepted HS256")
	}
}
