package reports

import (
	"strings"
	"testing"
)

func TestScrubber(t *testing.T) {
	pem := "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAuS3s6Z3J0o8m0bWm8Q0kVJb0aQ3mnl0f3p4ZxMZ3kR1V3n9C\nk3lTt0vVQ2bJ7hW9n1cE0N3gKJ2cXy8o1wKf2s9GQ2H1vZfJ3l4mWm5Zb2Qm1h0\n-----END RSA PRIVATE KEY-----"
	jwk := `{"kty":"EC","crv":"P-384","d":"Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0","x":"AAAA"}`
	sc := NewScrubber(pem, jwk, "static-bearer-token-value", "")
	tests := []struct {
		name, in string
		secrets  []string
	}{
		{"whole PEM", "key:\n" + pem, []string{"MIIEpAIBAAKCAQEAuS3s6Z3J0o8m0bWm8Q0kVJb0aQ3mnl0f3p4ZxMZ3kR1V3n9C"}},
		{"one PEM line", "oops k3lTt0vVQ2bJ7hW9n1cE0N3gKJ2cXy8o1wKf2s9GQ2H1vZfJ3l4mWm5Zb2Qm1h0 leaked", []string{"k3lTt0vVQ2bJ7hW9n1cE0N3gKJ2cXy8o1wKf2s9GQ2H1vZfJ3l4mWm5Zb2Qm1h0"}},
		{"JWK private member alone", "d=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0", []string{"Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"}},
		{"configured bearer token", "sent static-bearer-token-value", []string{"static-bearer-token-value"}},
		{"unknown bearer in a header line", "Authorization: Bearer abcdefgh12345678", []string{"abcdefgh12345678"}},
		{"JWT", "assertion eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl end", []string{"eyJhbGciOiJSUzM4NCJ9", "c2lnbmF0dXJl"}},
		{"reference access token", "token v1.eyJjbGllbnQiOiJhIn0xx.bWFjbWFjbWFj refused", []string{"eyJjbGllbnQiOiJhIn0xx", "bWFjbWFjbWFj"}},
		{"access_token in JSON", `{"access_token":"opaque123456","expires_in":300}`, []string{"opaque123456"}},
		{"client_assertion in a form", "grant_type=client_credentials&client_assertion=opaque-assertion", []string{"opaque-assertion"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sc.Scrub(tt.in)
			for _, s := range tt.secrets {
				if strings.Contains(got, s) {
					t.Errorf("Scrub(%q) = %q still holds %q", tt.in, got, s)
				}
			}
			if !strings.Contains(got, "REDACTED") {
				t.Errorf("Scrub(%q) = %q does not mark the redaction", tt.in, got)
			}
		})
	}
	for _, keep := range []string{
		"GET http://127.0.0.1:4000/files/9f0c2a77e1d34b4e8b1c55aa3e0f1d2c -> 200",
		"Expected \"application/json\" to equal \"application/fhir+ndjson\"",
		"ExplanationOfBenefit.item[0].adjudication[1].amount: not allowed",
		// A base URL with a base64 JSON path segment (settings, not a
		// secret), as the SMART bulk-data-server's.
		"http://127.0.0.1:19443/eyJlcnIiOiIiLCJwYWdlIjoxMDAwMCwiZHVyIjoxMCwidGx0IjoxNSwibSI6MSwic3R1Ijo0fQ/fhir",
		"GET http://127.0.0.1:19443/eyJlcnIiOiIiLCJwYWdlIjoxMDAwMH0/fhir/Group/g1 -> 200",
	} {
		if got := sc.Scrub(keep); got != keep {
			t.Errorf("Scrub changed ordinary text %q to %q", keep, got)
		}
	}
}
