package runner

import (
	"github.com/pdex-conform/pdex-conform/config"
	"github.com/pdex-conform/pdex-conform/reference"
)

// ReferenceConfig maps what the reference server reports of itself into a
// complete run configuration: the one `serve --write-config` writes and
// `run --target reference` starts from. The members for subset scenarios are
// two members of the Group who have not opted out.
func ReferenceConfig(f *reference.Facts) *config.Config {
	c := &config.Config{
		Target:                f.BaseURL,
		Edition:               f.Edition,
		Group:                 f.Group,
		OptedOut:              f.OptedOut,
		NonMember:             f.NonMember,
		OtherGroup:            f.OtherGroup,
		LastDownloadExtension: f.LastDownloadExtension,
		Consent:               config.Consent{Member: f.ConsentMember, Scope: f.ConsentScope},
	}
	if f.Operation != config.OperationPDex {
		c.Operation = f.Operation
	}
	opted := set(f.OptedOut)
	for _, m := range f.Members {
		if !opted[m] && len(c.Members) < 2 {
			c.Members = append(c.Members, m)
		}
	}
	c.Auth = config.Auth{Mode: "smart", ClientID: f.Client.ID, KeyID: f.Client.KeyID, Alg: f.Client.Alg,
		PrivateKey: f.Client.PrivateKey, Scope: f.Scope}
	if o := f.Other; o != nil {
		c.Auth.Other = &config.Client{ClientID: o.ID, KeyID: o.KeyID, Alg: o.Alg, PrivateKey: o.PrivateKey}
	}
	return c
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
