package runner

import (
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

func TestChooseEdition(t *testing.T) {
	declares := func(v string) *framework.Capability {
		return &framework.Capability{ImplementationGuide: []string{"http://hl7.org/fhir/us/davinci-pdex/ImplementationGuide/hl7.fhir.us.davinci-pdex|" + v}}
	}
	tests := []struct {
		name, configured string
		cs               *framework.Capability
		want, why        string
		mismatch         string
		errText          string
	}{
		{name: "auto reads the target", configured: "auto", cs: declares("2.1.0"),
			want: "2.1.0", why: "read from the target: the target's CapabilityStatement names implementationGuide"},
		{name: "auto with no edition declared", configured: "auto", cs: &framework.Capability{},
			errText: "give --edition 2.0.0, 2.1.0, 2.2.0"},
		{name: "auto with no CapabilityStatement", configured: "auto",
			errText: "--edition auto reads the target's CapabilityStatement, but GET /metadata answered none; give --edition"},
		{name: "auto with an unknown version", configured: "auto", cs: declares("2.1.1"),
			errText: "does not know"},
		{name: "configured and declared alike", configured: "2.1.0", cs: declares("2.1.0"),
			want: "2.1.0", why: "as configured"},
		{name: "configured against the declaration", configured: "2.2.0", cs: declares("2.1.0"),
			want: "2.2.0", why: "as configured", mismatch: "The target declares PDex edition 2.1.0 (implementationGuide"},
		{name: "configured, target silent", configured: "2.0.0", want: "2.0.0", why: "as configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Edition: tt.configured}
			ch, err := chooseEdition(cfg, tt.cs)
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
