package config

import (
	"crypto"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/keys"
)

func TestCredentials(t *testing.T) {
	key, err := keys.Generate(keys.ES384)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := keys.PrivatePEM(key)
	if err != nil {
		t.Fatal(err)
	}
	const tokenURL = "https://payer.example/auth/token"

	a := Auth{Mode: "smart", ClientID: "c1", KeyID: "k1", Alg: keys.ES384, PrivateKey: string(pem), Scope: "system/*.read"}
	c, err := a.Credentials(tokenURL)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "c1" || c.KeyID != "k1" || c.Alg != keys.ES384 || c.TokenURL != tokenURL || c.Scope != "system/*.read" || c.Key == nil {
		t.Errorf("credentials %+v do not carry the configuration", c)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(c.Key.Public()) {
		t.Error("the credentials hold another key")
	}

	o := Client{ClientID: "c2", KeyID: "k2", Alg: keys.ES384, PrivateKey: string(pem)}
	oc, err := o.Credentials(tokenURL, "system/*.rs")
	if err != nil {
		t.Fatal(err)
	}
	if oc.ClientID != "c2" || oc.Scope != "system/*.rs" || oc.TokenURL != tokenURL {
		t.Errorf("other credentials %+v do not carry the configuration", oc)
	}

	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"bad key", func() error { _, err := (&Auth{PrivateKey: "not a key"}).Credentials(tokenURL); return err }(), "auth private key"},
		{"no key file", func() error {
			_, err := (&Auth{PrivateKeyFile: "/nonexistent/key.pem"}).Credentials(tokenURL)
			return err
		}(), "reading the private key"},
		{"other without id", func() error { _, err := (&Client{PrivateKey: string(pem)}).Credentials(tokenURL, ""); return err }(), "clientId"},
		{"other without key", func() error { _, err := (&Client{ClientID: "c2"}).Credentials(tokenURL, ""); return err }(), "privateKey"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, tc.err, tc.want)
		}
	}
}
