package runner_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/reference"
	"github.com/pdex-conform/pdex-conform/runner"
)

// TestConfigurationChecked: ids the specification fixes the answer for are
// checked against the Group the target serves before any spec runs, and a
// wrong one ends the run as a configuration error.
func TestConfigurationChecked(t *testing.T) {
	ctx := context.Background()
	srv, err := reference.Listen(ctx, "127.0.0.1:0", reference.Options{DB: filepath.Join(t.TempDir(), "ref.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	facts, err := srv.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(facts.OptedOut) == 0 || facts.NonMember == "" || len(facts.Members) < 3 {
		t.Fatalf("the reference data set lacks what the test needs: %+v", facts)
	}
	tests := []struct {
		name   string
		change func(*config.Config)
		want   string // "" for a run that takes place
	}{
		{"as the server reports it", func(*config.Config) {}, ""},
		{"a member that is not in the Group", func(c *config.Config) { c.Members = append(c.Members, facts.NonMember) }, "members names Patient/" + facts.NonMember},
		{"a member that does not exist", func(c *config.Config) { c.Members = []string{"pdex-conform-nobody"} }, "not an active member"},
		{"a non-member that is in the Group", func(c *config.Config) { c.NonMember = facts.Members[1] }, "nonMember names Patient/" + facts.Members[1]},
		{"an opted-out non-member that is in the Group", func(c *config.Config) { c.NonMember = facts.OptedOut[0] }, "nonMember names Patient/" + facts.OptedOut[0]},
		{"a member also opted out", func(c *config.Config) { c.Members = []string{facts.OptedOut[0]} }, "both in members and in optedOut"},
		// In 2.0.0 an opted-out member may or may not stay in the Group:
		// nothing to check.
		{"an opted-out member outside the Group", func(c *config.Config) { c.OptedOut = []string{facts.NonMember + "-x"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := runner.ReferenceConfig(facts)
			cfg.LabelFilter = "/^PA-CAP-02$/"
			tt.change(cfg)
			_, err := runner.Run(ctx, cfg, runner.Options{NoColor: true, Registry: runner.SharedRegistry(t)})
			var ce *runner.ConfigError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.want == "":
			case !errors.As(err, &ce):
				t.Fatalf("Run error %v, want a configuration error", err)
			case !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n"):
				t.Errorf("Run error %q, want one line mentioning %q", err, tt.want)
			}
		})
	}
}
