package config

import (
	"strings"
	"testing"
)

func TestEditionSetting(t *testing.T) {
	tests := []struct {
		edition, want, errText string
	}{
		{"", "auto", ""},
		{"auto", "auto", ""},
		{"2.1.0", "2.1.0", ""},
		{"2.2.0", "2.2.0", ""},
		{"2.1", "", `edition "2.1" is not known (known: 2.0.0, 2.1.0, 2.2.0), or auto`},
	}
	for _, tt := range tests {
		c := &Config{Target: "reference", Edition: tt.edition}
		c.Defaults()
		err := c.Validate()
		if tt.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("edition %q: %v, want an error containing %q", tt.edition, err, tt.errText)
			}
			continue
		}
		if err != nil || c.Edition != tt.want {
			t.Errorf("edition %q: %q, %v; want %q", tt.edition, c.Edition, err, tt.want)
		}
		if c.Consent.Scope != "system/Consent.write" {
			t.Errorf("consent scope default %q", c.Consent.Scope)
		}
	}
}
