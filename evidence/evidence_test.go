package evidence

import (
	"net/http"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	jwt := "eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
	tests := []struct {
		name, in, secret string
	}{
		{"form assertion", "grant_type=client_credentials&client_assertion=" + jwt + "&scope=x", jwt},
		{"json token", `{"access_token":"opaque-secret-value","token_type":"bearer"}`, "opaque-secret-value"},
		{"bare jwt", "token " + jwt, jwt},
		{"pem key", "key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"},
		{"jwk private part", `{"kty":"RSA","d":"private-exponent"}`, "private-exponent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RedactBody(tt.in)
			if strings.Contains(got, tt.secret) {
				t.Errorf("RedactBody(%q) = %q still holds the secret", tt.in, got)
			}
			if !strings.Contains(got, "REDACTED") {
				t.Errorf("RedactBody(%q) = %q does not mark the redaction", tt.in, got)
			}
		})
	}
}

func TestRedactHeaders(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer s3cret"}, "Accept": {"application/fhir+json"}}
	got := RedactHeaders(h)
	if got["Authorization"][0] != "Bearer [REDACTED]" {
		t.Errorf("Authorization = %q", got["Authorization"])
	}
	if got["Accept"][0] != "application/fhir+json" {
		t.Errorf("Accept = %q", got["Accept"])
	}
}

func TestPreviewCutsOnRuneBoundary(t *testing.T) {
	b := []byte(strings.Repeat("é", BodyPreview))
	p := Preview(b)
	if !strings.HasSuffix(p, "…") || strings.ContainsRune(p, '\uFFFD') {
		t.Errorf("preview not cut cleanly: ...%q", p[len(p)-10:])
	}
}

// TestRedactEveryName runs every secret name the redaction knows through
// it: the literal checks that spare most bodies the regular expressions
// must let each one through to them.
func TestRedactEveryName(t *testing.T) {
	for _, name := range formNames {
		in := "a=1&" + name + "form-secret-value&b=2"
		if got := RedactBody(in); strings.Contains(got, "form-secret-value") {
			t.Errorf("RedactBody(%q) = %q still holds the secret", in, got)
		}
	}
	for _, name := range jsonNames {
		in := `{"kty":"RSA", ` + name + ` : "json-secret-value"}`
		if got := RedactBody(in); strings.Contains(got, "json-secret-value") {
			t.Errorf("RedactBody(%q) = %q still holds the secret", in, got)
		}
	}
	for _, in := range []string{`{"resourceType":"Patient","id":"p1"}`, "grant_type=client_credentials&scope=system/*.read"} {
		if got := RedactBody(in); got != in {
			t.Errorf("RedactBody(%q) = %q, want it unchanged", in, got)
		}
	}
}
