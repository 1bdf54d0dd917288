package runner_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/evidence"
	"github.com/pdex-conform/pdex-conform/runner"
)

// TestEvidenceHoldsNoSecrets runs the whole suite against the reference
// server, with SMART Backend Services, and searches everything the run
// recorded (each report entry's raw value as JSON, and the spec reports
// themselves: failure messages, captured output) for access tokens, client
// assertions and private keys. The reports package checks the rendered
// outputs; this checks the raw evidence they are rendered from.
func TestEvidenceHoldsNoSecrets(t *testing.T) {
	cfg := &config.Config{Target: "reference"}
	res, err := runner.Run(context.Background(), cfg, runner.Options{NoColor: true, Registry: runner.SharedRegistry(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.Auth.Mode != "smart" {
		t.Fatalf("the reference run authorizes with %q; this test needs SMART Backend Services", res.Config.Auth.Mode)
	}

	// The secrets known by value: the private keys' material.
	secrets := keyMaterial(t, res.Config.Auth.PrivateKey)
	if o := res.Config.Auth.Other; o != nil {
		secrets = append(secrets, keyMaterial(t, o.PrivateKey)...)
	}
	// And by shape: any JWT or base64url JSON (client assertions; the
	// reference's access tokens carry a base64url JSON payload), PEM,
	// and the fields and headers that carry tokens, unless redacted.
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}`),
		regexp.MustCompile(`-----BEGIN`),
		regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._~+/-]{12,}`),
		regexp.MustCompile(`"access_token\\?"\s*:\s*\\?"(?:[^\[\\]|\[[^R])`),
		regexp.MustCompile(`client_assertion=(?:[^%\[&]|%[^5]|\[[^R])`),
	}

	var tokenRequests, authorized int
	check := func(where string, b []byte) {
		s := string(b)
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s holds private key material %.12s…", where, sec)
			}
		}
		for _, p := range patterns {
			if loc := p.FindStringIndex(s); loc != nil {
				t.Errorf("%s holds a secret (%s): …%s…", where, p, s[max(0, loc[0]-40):min(len(s), loc[1]+40)])
			}
		}
	}
	for _, sr := range res.Report.SpecReports {
		name := sr.FullText()
		for _, e := range sr.ReportEntries {
			raw := e.GetRawValue()
			b, err := json.Marshal(raw)
			if err != nil {
				t.Errorf("%s: entry %s does not marshal: %v", name, e.Name, err)
				continue
			}
			check(name+": entry "+e.Name, b)
			check(name+": entry "+e.Name+" as shown", []byte(e.StringRepresentation()))
			if ex, ok := raw.(evidence.Exchange); ok {
				if strings.Contains(ex.RequestBody, "client_assertion=") {
					tokenRequests++
				}
				if a := ex.RequestHeaders["Authorization"]; len(a) > 0 {
					authorized++
				}
			}
		}
		b, err := json.Marshal(sr)
		if err != nil {
			t.Fatalf("%s: the spec report does not marshal: %v", name, err)
		}
		check(name+": spec report", b)
	}
	// The search above means something only if the run recorded the
	// exchanges that carried secrets.
	if tokenRequests == 0 || authorized == 0 {
		t.Errorf("the evidence holds %d token requests and %d authorized requests; the search proved nothing", tokenRequests, authorized)
	}
	if failed := countState(res.Report, types.SpecStateFailed); failed > 0 {
		t.Logf("%d specs failed against the reference server (the fault tables own that)", failed)
	}
}

// keyMaterial returns pieces of a PEM or JWK private key that must never be
// recorded: each base64 line of a PEM body, or a JWK's private members.
func keyMaterial(t *testing.T, key string) []string {
	t.Helper()
	key = strings.TrimSpace(key)
	var out []string
	if strings.HasPrefix(key, "{") {
		var jwk map[string]any
		if err := json.Unmarshal([]byte(key), &jwk); err != nil {
			t.Fatalf("the private key JWK: %v", err)
		}
		for _, m := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if v, ok := jwk[m].(string); ok && len(v) >= 16 {
				out = append(out, v[:16])
			}
		}
	} else {
		for _, line := range strings.Split(key, "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no key material found in the configured private key")
	}
	return out
}

func countState(r types.Report, s types.SpecState) int {
	n := 0
	for _, sr := range r.SpecReports {
		if sr.State == s {
			n++
		}
	}
	return n
}
