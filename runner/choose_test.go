package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pdex-conform/pdex-conform/config"
)

func TestChooseEdition(t *testing.T) {
	const ig = `"implementationGuide":["http://hl7.org/fhir/us/davinci-pdex/ImplementationGuide/hl7.fhir.us.davinci-pdex|2.1.0"]`
	tests := []struct {
		name, configured string
		status           int
		body             string
		want, why        string
		mismatch         string
		errText          string
	}{
		{name: "auto reads the target", configured: "auto", status: 200, body: `{"resourceType":"CapabilityStatement",` + ig + `}`,
			want: "2.1.0", why: "read from the target: the target's CapabilityStatement names implementationGuide"},
		{name: "auto with no edition declared", configured: "auto", status: 200, body: `{"resourceType":"CapabilityStatement"}`,
			errText: "give --edition 2.0.0, 2.1.0, 2.2.0"},
		{name: "auto with no CapabilityStatement", configured: "auto", status: 404, body: `{"resourceType":"OperationOutcome"}`,
			errText: "--edition auto reads the target's CapabilityStatement, but GET metadata answered HTTP 404; give --edition"},
		{name: "configured and declared alike", configured: "2.1.0", status: 200, body: `{"resourceType":"CapabilityStatement",` + ig + `}`,
			want: "2.1.0", why: "as configured"},
		{name: "configured against the declaration", configured: "2.2.0", status: 200, body: `{"resourceType":"CapabilityStatement",` + ig + `}`,
			want: "2.2.0", why: "as configured", mismatch: "The target declares PDex edition 2.1.0 (implementationGuide"},
		{name: "configured, target silent", configured: "2.0.0", status: 500, body: `oops`, want: "2.0.0", why: "as configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			cfg := &config.Config{Target: srv.URL, Edition: tt.configured}
			cfg.Timeouts.Request.Duration = 5 * time.Second
			ch, err := chooseEdition(context.Background(), cfg, srv.Client(), nil)
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("got %v, want an error containing %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Edition != tt.want || !strings.Contains(ch.Why, tt.why) {
				t.Errorf("edition %s (%s), want %s (%q)", cfg.Edition, ch.Why, tt.want, tt.why)
			}
			if tt.mismatch == "" && ch.Mismatch != "" || !strings.Contains(ch.Mismatch, tt.mismatch) {
				t.Errorf("mismatch %q, want %q", ch.Mismatch, tt.mismatch)
			}
		})
	}
}
