package runner_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/reference/tlstest"
	"github.com/pdex-conform/pdex-conform/runner"
)

const exportCapability = `{"resourceType":"CapabilityStatement","status":"active","date":"2026-01-01","kind":"instance",` +
	`"fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","resource":[{"type":"Group",` +
	`"interaction":[{"code":"read"},{"code":"search-type"}],` +
	`"operation":[{"name":"davinci-data-export","definition":"http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export"}]}]}]}`

// TestMutualTLS runs a spec against a target that requires a client
// certificate: the configured certificate is presented and the configured
// CA trusted; without them the spec fails naming the certificate problem.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, otherCA := tlstest.NewCA(t, "pdex-conform test CA"), tlstest.NewCA(t, "some other CA")
	srvCert, srvKey := ca.Server(t, "127.0.0.1")
	cliCert, cliKey := ca.Client(t, "pdex-conform-client")
	strangerCert, strangerKey := otherCA.Client(t, "stranger")
	files := map[string]string{
		"ca":          tlstest.WriteFile(t, dir, "ca.PEM", ca.PEM),
		"cert":        tlstest.WriteFile(t, dir, "client.pem", cliCert),
		"key":         tlstest.WriteFile(t, dir, "client-key.pem", cliKey),
		"strangeCert": tlstest.WriteFile(t, dir, "stranger.pem", strangerCert),
		"strangeKey":  tlstest.WriteFile(t, dir, "stranger-key.pem", strangerKey),
		"notPEM":      tlstest.WriteFile(t, dir, "not.pem", []byte("not a certificate")),
	}

	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(ca.Cert)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, exportCapability)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	// Refused handshakes are the point of some cases, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	tests := []struct {
		name string
		tls  config.TLS
		// runErr: Run refuses the configuration with this; otherwise the
		// spec passes when mention is "" or fails mentioning it.
		runErr, mention string
		seen            string
	}{
		{name: "trusted client certificate", tls: config.TLS{ClientCert: files["cert"], ClientKey: files["key"], CACert: files["ca"]}, seen: "pdex-conform-client"},
		{name: "no client certificate", tls: config.TLS{CACert: files["ca"]}, mention: "tls: certificate required"},
		{name: "a certificate the server does not trust", tls: config.TLS{ClientCert: files["strangeCert"], ClientKey: files["strangeKey"], CACert: files["ca"]}, mention: "tls: certificate required"}, // Go sends no certificate the server's CA list excludes
		{name: "server certificate not trusted", tls: config.TLS{ClientCert: files["cert"], ClientKey: files["key"]}, runErr: "TLS certificate is not trusted"},
		{name: "caCert without PEM", tls: config.TLS{CACert: files["notPEM"]}, runErr: "holds no PEM certificate"},
		{name: "caCert missing", tls: config.TLS{CACert: filepath.Join(dir, "missing.pem")}, runErr: "tls.caCert cannot be read"},
		{name: "key of another certificate", tls: config.TLS{ClientCert: files["cert"], ClientKey: files["strangeKey"], CACert: files["ca"]}, runErr: "client certificate cannot be loaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			cfg := &config.Config{
				Target: srv.URL, Edition: "2.0.0", Group: "g1", Auth: config.Auth{Mode: "none"}, TLS: tt.tls,
				LabelFilter: "/^PA-CAP-02$/",
				Timeouts: config.Timeouts{
					Request: config.Duration{Duration: 2 * time.Second},
					Export:  config.Duration{Duration: 3 * time.Second},
				},
			}
			res, err := runner.Run(context.Background(), cfg, runner.Options{NoColor: true, Registry: runner.SharedRegistry(t)})
			if tt.runErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.runErr) {
					t.Fatalf("Run error %v, want one mentioning %q", err, tt.runErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			ran := 0
			for _, sr := range res.Report.SpecReports {
				if sr.LeafNodeType != types.NodeTypeIt || sr.State == types.SpecStateSkipped {
					continue
				}
				ran++
				if sr.State == types.SpecStateFailed {
					t.Logf("%s failed: %s", sr.FullText(), sr.Failure.Message)
				}
				switch {
				case tt.mention == "" && sr.State != types.SpecStatePassed:
					t.Errorf("%s ended %s: %s", sr.FullText(), sr.State, sr.Failure.Message)
				case tt.mention != "" && sr.State != types.SpecStateFailed:
					t.Errorf("%s ended %s, want failed", sr.FullText(), sr.State)
				case tt.mention != "" && !strings.Contains(sr.Failure.Message, tt.mention):
					t.Errorf("%s failed without mentioning %q: %s", sr.FullText(), tt.mention, sr.Failure.Message)
				}
			}
			if ran != 1 {
				t.Errorf("%d specs ran, want PA-CAP-02 alone", ran)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.seen != "" && (len(seen) == 0 || seen[0] != tt.seen) {
				t.Errorf("the server saw client certificates %v, want %s", seen, tt.seen)
			}
			if tt.seen == "" && len(seen) > 0 {
				t.Errorf("the server served a client it should have refused: %v", seen)
			}
		})
	}
}
