package smart

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/pdex-conform/pdex-conform/keys"
	"github.com/pdex-conform/pdex-conform/keys/keystest"
)

// decoded is an assertion taken apart without trusting it.
type decoded struct {
	header, claims map[string]any
	input          string
	sig            []byte
}

func decode(t *testing.T, tok string) decoded {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts in %q", len(parts), tok)
	}
	var d decoded
	for i, dst := range []*map[string]any{&d.header, &d.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	d.input, d.sig = parts[0]+"."+parts[1], sig
	return d
}

func (d decoded) num(t *testing.T, claim string) int64 {
	t.Helper()
	n, ok := d.claims[claim].(json.Number)
	if !ok {
		t.Fatalf("claim %s = %v, not a number", claim, d.claims[claim])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifyWithJose checks the token with an independent JOSE implementation.
func verifyWithJose(t *testing.T, tok string, pub crypto.PublicKey, alg jose.SignatureAlgorithm) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("go-jose cannot parse the token: %v", err)
	}
	if _, err := jws.Verify(pub); err != nil {
		t.Fatalf("go-jose does not verify the token: %v", err)
	}
}

func TestCorrectAssertion(t *testing.T) {
	k := keystest.New(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		key crypto.Signer
		alg string
	}{{k.RSA, keys.RS384}, {k.EC, keys.ES384}} {
		t.Run(tc.alg, func(t *testing.T) {
			c := Credentials{ClientID: "client-1", KeyID: "kid-1", Key: tc.key, TokenURL: "https://as.example/token"}
			tok, err := c.Assertion(AssertionOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			verifyWithJose(t, tok, tc.key.Public(), jose.SignatureAlgorithm(tc.alg))
			d := decode(t, tok)
			if d.header["alg"] != tc.alg || d.header["kid"] != "kid-1" || d.header["typ"] != "JWT" {
				t.Errorf("header %v", d.header)
			}
			if _, ok := d.header["jku"]; ok {
				t.Errorf("jku sent without being configured")
			}
			if d.claims["iss"] != "client-1" || d.claims["sub"] != "client-1" || d.claims["aud"] != "https://as.example/token" {
				t.Errorf("claims %v", d.claims)
			}
			if exp := d.num(t, "exp"); exp != now.Add(DefaultAssertionLifetime).Unix() || exp > now.Add(5*time.Minute).Unix() {
				t.Errorf("exp %d, now %d", exp, now.Unix())
			}
			jti, _ := d.claims["jti"].(string)
			if len(jti) != 32 {
				t.Errorf("jti %q is not 128 bits in hex", jti)
			}
			again, err := c.Assertion(AssertionOptions{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if decode(t, again).claims["jti"] == jti {
				t.Error("two assertions share a jti")
			}
			if tc.alg == keys.ES384 && len(d.sig) != 96 {
				t.Errorf("ES384 signature is %d bytes, want r||s of 96", len(d.sig))
			}
		})
	}
}

func TestAssertionKnobs(t *testing.T) {
	k := keystest.New(t)
	other := keystest.New(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c := Credentials{ClientID: "client-1", KeyID: "kid-1", Key: k.RSA, TokenURL: "https://as.example/token", JKU: "https://client.example/jwks"}
	ec := Credentials{ClientID: "client-1", KeyID: "kid-e", Key: k.EC, TokenURL: "https://as.example/token"}
	pubPEM, err := keys.PublicPEM(k.RSA.Public())
	if err != nil {
		t.Fatal(err)
	}
	rsVerifies := func(pub *rsa.PublicKey) func(*testing.T, decoded) bool {
		return func(t *testing.T, d decoded) bool {
			h := sha512.Sum384([]byte(d.input))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA384, h[:], d.sig) == nil
		}
	}
	for _, tc := range []struct {
		name  string
		creds Credentials
		opts  AssertionOptions
		check func(*testing.T, decoded)
	}{
		{"claims overridden", c, AssertionOptions{Audience: "a", Issuer: "i", Subject: "s", JTI: "j"}, func(t *testing.T, d decoded) {
			if d.claims["aud"] != "a" || d.claims["iss"] != "i" || d.claims["sub"] != "s" || d.claims["jti"] != "j" {
				t.Errorf("claims %v", d.claims)
			}
		}},
		{"jku from credentials, header overrides", c, AssertionOptions{KeyID: "k2", Typ: "at+jwt"}, func(t *testing.T, d decoded) {
			if d.header["jku"] != "https://client.example/jwks" || d.header["kid"] != "k2" || d.header["typ"] != "at+jwt" {
				t.Errorf("header %v", d.header)
			}
		}},
		{"expired", c, AssertionOptions{ExpiresIn: -time.Minute}, func(t *testing.T, d decoded) {
			if d.num(t, "exp") != now.Add(-time.Minute).Unix() {
				t.Errorf("exp %v", d.claims["exp"])
			}
		}},
		{"omissions", c, AssertionOptions{OmitExp: true, OmitJTI: true, OmitKid: true, OmitTyp: true}, func(t *testing.T, d decoded) {
			for _, m := range []string{"exp", "jti"} {
				if _, ok := d.claims[m]; ok {
					t.Errorf("%s present", m)
				}
			}
			for _, m := range []string{"kid", "typ"} {
				if _, ok := d.header[m]; ok {
					t.Errorf("%s present", m)
				}
			}
		}},
		{"alg none", c, AssertionOptions{AlgNone: true}, func(t *testing.T, d decoded) {
			if d.header["alg"] != "none" || len(d.sig) != 0 {
				t.Errorf("header %v, %d signature bytes", d.header, len(d.sig))
			}
		}},
		{"HS256 keyed with the public key", c, AssertionOptions{HS256Secret: pubPEM}, func(t *testing.T, d decoded) {
			m := hmac.New(sha256.New, pubPEM)
			m.Write([]byte(d.input))
			if d.header["alg"] != "HS256" || !hmac.Equal(m.Sum(nil), d.sig) {
				t.Errorf("not an HMAC-SHA256 with the public key: header %v", d.header)
			}
		}},
		{"signed with another key", c, AssertionOptions{SignWith: other.RSA}, func(t *testing.T, d decoded) {
			if !rsVerifies(&other.RSA.PublicKey)(t, d) || rsVerifies(&k.RSA.PublicKey)(t, d) {
				t.Error("not signed by the other key alone")
			}
		}},
		{"corrupt signature", c, AssertionOptions{CorruptSignature: true}, func(t *testing.T, d decoded) {
			if rsVerifies(&k.RSA.PublicKey)(t, d) {
				t.Error("the corrupted signature still verifies")
			}
		}},
		{"header lies about the algorithm", c, AssertionOptions{HeaderAlg: "ES384"}, func(t *testing.T, d decoded) {
			if d.header["alg"] != "ES384" || !rsVerifies(&k.RSA.PublicKey)(t, d) {
				t.Errorf("header %v", d.header)
			}
		}},
		{"RS256 really signed", c, AssertionOptions{Alg: "RS256"}, func(t *testing.T, d decoded) {
			h := sha256.Sum256([]byte(d.input))
			if d.header["alg"] != "RS256" || rsa.VerifyPKCS1v15(&k.RSA.PublicKey, crypto.SHA256, h[:], d.sig) != nil {
				t.Error("not an RS256 signature")
			}
		}},
		{"PS384 really signed", c, AssertionOptions{Alg: "PS384"}, func(t *testing.T, d decoded) {
			h := sha512.Sum384([]byte(d.input))
			if rsa.VerifyPSS(&k.RSA.PublicKey, crypto.SHA384, h[:], d.sig, nil) != nil {
				t.Error("not a PS384 signature")
			}
		}},
		{"ES384 raw r||s", ec, AssertionOptions{}, func(t *testing.T, d decoded) {
			h := sha512.Sum384([]byte(d.input))
			r, s := new(big.Int).SetBytes(d.sig[:48]), new(big.Int).SetBytes(d.sig[48:])
			if !ecdsa.Verify(&k.EC.PublicKey, h[:], r, s) {
				t.Error("r||s does not verify")
			}
		}},
		{"extras", c, AssertionOptions{ExtraHeader: map[string]any{"crit": []string{"x"}}, ExtraClaims: map[string]any{"aud": []string{"x", "y"}}}, func(t *testing.T, d decoded) {
			if _, ok := d.header["crit"]; !ok {
				t.Error("no crit")
			}
			if _, ok := d.claims["aud"].([]any); !ok {
				t.Errorf("aud %v", d.claims["aud"])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = now
			tok, err := tc.creds.Assertion(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, decode(t, tok))
		})
	}

	for name, tc := range map[string]struct {
		creds Credentials
		opts  AssertionOptions
	}{
		"no client id":          {Credentials{Key: k.RSA, TokenURL: "u"}, AssertionOptions{}},
		"no token URL":          {Credentials{ClientID: "c", Key: k.RSA}, AssertionOptions{}},
		"no key":                {Credentials{ClientID: "c", TokenURL: "u"}, AssertionOptions{}},
		"unsupported alg":       {Credentials{ClientID: "c", Key: k.RSA, TokenURL: "u", Alg: "RS256"}, AssertionOptions{}},
		"ES384 with an RSA key": {Credentials{ClientID: "c", Key: k.RSA, TokenURL: "u", Alg: keys.ES384}, AssertionOptions{}},
		"ES384 with P-256":      {Credentials{ClientID: "c", Key: k.EC256, TokenURL: "u"}, AssertionOptions{Alg: keys.ES384}},
		"unknown signing alg":   {Credentials{ClientID: "c", Key: k.RSA, TokenURL: "u"}, AssertionOptions{Alg: "XX999"}},
	} {
		if _, err := tc.creds.Assertion(tc.opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestForm(t *testing.T) {
	f := Form("a.b.c", "system/*.read")
	want := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {"system/*.read"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {"a.b.c"},
	}
	if f.Encode() != want.Encode() {
		t.Errorf("form %v", f)
	}
}
