package reference

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/reference/tlstest"
)

// TestTLS: serve over HTTPS, and with a client CA refuse every client
// without a certificate from it (mutual TLS).
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "pdex-conform test CA")
	rogue := tlstest.NewCA(t, "someone else's CA")
	srvCert, srvKey := ca.Server(t, "reference server")
	cliCert, cliKey := ca.Client(t, "provider client")
	rogueCert, rogueKey := rogue.Client(t, "rogue client")
	certFile := tlstest.WriteFile(t, dir, "server.pem", srvCert)
	keyFile := tlstest.WriteFile(t, dir, "server-key.pem", srvKey)
	caFile := tlstest.WriteFile(t, dir, "ca.PEM", ca.PEM)

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
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
			{certFile, keyFile, filepath.Join(dir, "missing-ca.PEM")},
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
