package runner

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// checkInputs checks, before any spec runs, the ids the configuration gives
// where the specification fixes the answer, against the Group as the target
// serves it:
//
//   - every configured member is a member of the Group (subset scenarios
//     hold the target to exporting them);
//   - the non-member is not (the subset scenarios hold it to exporting
//     nothing of them);
//   - no configured member is also configured as opted out (a subset
//     scenario would hold the target to exporting an opted-out member).
//
// Whether an opted-out member stays listed in the Group is the edition's
// to say: 2.0.0 is silent (they may), and 2.1.0 and 2.2.0 make leaving
// them out the server's obligation, which a spec judges; so opted-out ids
// are not checked against the Group here. A wrong id would otherwise turn
// into a verdict on the server. When the Group cannot be read at all, the
// Group specs report it and nothing is checked here.
func checkInputs(ctx context.Context, cfg *config.Config, hc *http.Client, auth bulk.Authorizer) error {
	for _, m := range cfg.Members {
		if slices.Contains(cfg.OptedOut, m) {
			return &ConfigError{What: fmt.Sprintf("Patient/%s is both in members and in optedOut: the members for subset scenarios must not have opted out.", m),
				Fix: "Take it out of one list, or leave members out (the harness then chooses members the full export holds)."}
		}
	}
	if len(cfg.Members) == 0 && cfg.NonMember == "" {
		return nil
	}
	c := &bulk.Client{Base: cfg.Target, HTTP: hc, Auth: auth, RequestTimeout: cfg.Timeouts.Request.Duration}
	resp, err := c.Do(ctx, framework.Get("Group/"+url.PathEscape(cfg.Group)))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil // the Group specs say why it cannot be read
	}
	g, err := framework.ParseGroup(resp.Body)
	if err != nil {
		return nil
	}
	for _, m := range cfg.Members {
		if !slices.Contains(g.Members, m) {
			return &ConfigError{What: fmt.Sprintf("members names Patient/%s, which is not an active member of Group/%s as the target serves it.", m, cfg.Group),
				Fix: "Name members of the Group in members, or leave members out (the harness then chooses)."}
		}
	}
	if cfg.NonMember != "" && slices.Contains(g.Members, cfg.NonMember) {
		return &ConfigError{What: fmt.Sprintf("nonMember names Patient/%s, which is a member of Group/%s as the target serves it.", cfg.NonMember, cfg.Group),
			Fix: "Name in nonMember a patient the payer holds who is not in the Group, or leave it out."}
	}
	return nil
}
