package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pdex-conform/pdex-conform/config"
)

// InputsOf lists every input and option of a run, as the Run section shows
// them: the target and what to export, the client (never its key or
// token), TLS files, timeouts, the gate and the reference server's
// switches. An input left out says so, since a scenario without its input
// is skipped.
func InputsOf(c *config.Config) []Input {
	none := "(not set)"
	list := func(xs []string) string {
		if len(xs) == 0 {
			return none
		}
		return strings.Join(xs, ", ")
	}
	or := func(s string) string {
		if s == "" {
			return none
		}
		return s
	}
	in := []Input{
		{"target", c.Target},
		{"edition", c.Edition},
		{"operation", or(c.Operation)},
		{"group", or(c.Group)},
		{"members", list(c.Members)},
		{"optedOut", list(c.OptedOut)},
		{"nonMember", or(c.NonMember)},
		{"otherGroup", or(c.OtherGroup)},
		{"lastDownloadExtension", or(c.LastDownloadExtension)},
		{"allowFinancial", fmt.Sprint(c.AllowFinancial)},
		{"auth.mode", or(c.Auth.Mode)},
	}
	if c.Auth.Mode == "smart" {
		key := "auth.privateKey (given, not shown)"
		if c.Auth.PrivateKey == "" && c.Auth.PrivateKeyFile != "" {
			key = c.Auth.PrivateKeyFile
		}
		in = append(in,
			Input{"auth.clientId", or(c.Auth.ClientID)},
			Input{"auth.keyId", or(c.Auth.KeyID)},
			Input{"auth.alg", or(c.Auth.Alg)},
			Input{"auth.key", key},
			Input{"auth.scope", or(c.Auth.Scope)},
			Input{"auth.tokenUrl", cmp.Or(c.Auth.TokenURL, "(discovered from .well-known/smart-configuration)")},
		)
		if o := c.Auth.Other; o != nil {
			in = append(in, Input{"auth.other", fmt.Sprintf("clientId %s, keyId %s, alg %s (key not shown)", or(o.ClientID), or(o.KeyID), or(o.Alg))})
		} else {
			in = append(in, Input{"auth.other", none})
		}
	}
	if c.Auth.Mode == "bearer" {
		in = append(in, Input{"auth.bearerToken", "(given, not shown)"})
	}
	in = append(in,
		Input{"tls.clientCert", or(c.TLS.ClientCert)},
		Input{"tls.caCert", or(c.TLS.CACert)},
		Input{"timeouts.request", c.Timeouts.Request.String()},
		Input{"timeouts.export", c.Timeouts.Export.String()},
		Input{"labelFilter", or(c.LabelFilter)},
		Input{"failOn", or(c.FailOn)},
		Input{"strict", fmt.Sprint(c.Strict)},
		Input{"packages", list(c.Packages)},
	)
	if c.Target == "reference" || len(c.Faults) > 0 || len(c.Variants) > 0 {
		in = append(in, Input{"faults", list(c.Faults)}, Input{"variants", list(c.Variants)})
	}
	ids := make([]string, 0, len(c.Attestations))
	for id := range c.Attestations {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	in = append(in, Input{"attestations", list(ids)})
	return in
}
