package smart

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDiscoverTokenURL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string // token URL, or a fragment of the error
		ok     bool
	}{
		{"found", 200, `{"token_endpoint":"https://payer.example/token"}`, "https://payer.example/token", true},
		{"not found", 404, `{}`, "HTTP 404", false},
		{"no token_endpoint", 200, `{"issuer":"x"}`, "no token_endpoint", false},
		{"not JSON", 200, `<html>`, "no token_endpoint", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/fhir/.well-known/smart-configuration" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			got, err := DiscoverTokenURL(context.Background(), srv.Client(), srv.URL+"/fhir/")
			switch {
			case tc.ok && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
