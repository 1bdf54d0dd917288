package reference

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate for a server (IP SAN 127.0.0.1) or a
// client, returning its PEM certificate and key.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTLS: serve over HTTPS, and with a client CA refuse every client
// without a certificate from it (mutual TLS).
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "pdex-conform test CA")
	rogue := newTestCA(t, "someone else's CA")
	srvCert, srvKey := ca.issue(t, "reference server", true)
	cliCert, cliKey := ca.issue(t, "provider client", false)
	rogueCert, rogueKey := rogue.issue(t, "rogue client", false)
	certFile := writeFile(t, dir, "server.pem", srvCert)
	keyFile := writeFile(t, dir, "server-key.pem", srvKey)
	caFile := writeFile(t, dir, "ca.pem", ca.pem)

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	client := func(t *testing.T, certPEM, keyPEM []byte) *http.Client {
		cfg := &tls.Config{RootCAs: roots}
		if certPEM != nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}

	t.Run("bad configuration", func(t *testing.T) {
		for _, c := range []struct{ cert, key, ca string }{
			{"", keyFile, ""},
			{certFile, filepath.Join(dir, "missing.pem"), ""},
			{certFile, keyFile, filepath.Join(dir, "missing-ca.pem")},
			{certFile, keyFile, keyFile}, // a key is no CA certificate
		} {
			if _, err := LoadTLSConfig(c.cert, c.key, c.ca); err == nil {
				t.Errorf("LoadTLSConfig(%q, %q, %q) accepted", c.cert, c.key, c.ca)
			}
		}
	})

	t.Run("server TLS only", func(t *testing.T) {
		cfg, err := LoadTLSConfig(certFile, keyFile, "")
		if err != nil {
			t.Fatal(err)
		}
		h := startServer(t, Options{TLS: cfg})
		if h.srv.URL[:8] != "https://" {
			t.Fatalf("URL %s is not https", h.srv.URL)
		}
		h.hc = client(t, nil, nil)
		// A whole SMART flow over TLS: the token audience is the https URL.
		if r := h.mustDo(http.MethodGet, "/Group/group-01", h.token(TestClientID), nil, nil); r.status != http.StatusOK {
			t.Errorf("Group read over TLS: HTTP %d", r.status)
		}
		plain := &http.Client{Timeout: 5 * time.Second}
		// Go's TLS server answers a plain HTTP request with a bare 400.
		if resp, err := plain.Get("http" + h.srv.URL[5:] + "/metadata"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Error("plain HTTP to the TLS port was served")
			}
		}
	})

	t.Run("mutual TLS", func(t *testing.T) {
		cfg, err := LoadTLSConfig(certFile, keyFile, caFile)
		if err != nil {
			t.Fatal(err)
		}
		h := startServer(t, Options{TLS: cfg})
		cases := []struct {
			name      string
			cert, key []byte
			ok        bool
		}{
			{"trusted client certificate", cliCert, cliKey, true},
			{"no client certificate", nil, nil, false},
			{"certificate from another CA", rogueCert, rogueKey, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				hc := client(t, c.cert, c.key)
				defer hc.CloseIdleConnections()
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, h.srv.URL+"/metadata", nil)
				resp, err := hc.Do(req)
				if c.ok {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("HTTP %d", resp.StatusCode)
					}
					return
				}
				if err == nil {
					resp.Body.Close()
					t.Fatalf("connected without a trusted certificate: HTTP %d", resp.StatusCode)
				}
				t.Logf("refused as expected: %v", err)
			})
		}
	})
}
