package reference

import (
	"context"
	"fmt"
	"slices"

	"github.com/pdex-conform/pdex-conform/runner/config"
)

// RunConfig derives everything `pdex-conform run` needs to test this server:
// the first Group the test client may export, two of its members, its
// opted-out members, a patient outside it, a Group the other client may not
// export, and the test clients' credentials.
func (s *Server) RunConfig(ctx context.Context) (*config.Config, error) {
	groups, err := s.groupIDs(ctx)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("the data set holds no Group")
	}
	group := groups[0]
	members, err := s.groupMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	opted, err := s.optedOut(ctx)
	if err != nil {
		return nil, err
	}
	c := &config.Config{
		Target:                s.opts.BaseURL,
		Edition:               s.edition.Name,
		Group:                 group,
		LastDownloadExtension: s.edition.LastDownloadURL,
	}
	for _, m := range members {
		if opted[m] {
			c.OptedOut = append(c.OptedOut, m)
		} else if len(c.Members) < 2 {
			c.Members = append(c.Members, m)
		}
	}
	if nm, err := s.nonMember(ctx, members); err == nil {
		c.NonMember = nm
	}
	var main, other *TestClient
	for i := range s.auth.clients {
		switch s.auth.clients[i].ID {
		case TestClientID:
			main = &s.auth.clients[i]
		case OtherClientID:
			other = &s.auth.clients[i]
		}
	}
	if main == nil {
		return nil, fmt.Errorf("the test client is not registered")
	}
	c.Auth = config.Auth{Mode: "smart", ClientID: main.ID, KeyID: main.KeyID, Alg: main.Alg, PrivateKey: main.PrivateKey, Scope: "system/*.read"}
	if other != nil {
		c.Auth.Other = &config.Client{ClientID: other.ID, KeyID: other.KeyID, Alg: other.Alg, PrivateKey: other.PrivateKey}
		// A Group the main client may export but the other may not.
		for _, g := range groups {
			if !slices.Contains(other.Groups, g) {
				c.OtherGroup = g
				break
			}
		}
	}
	return c, nil
}
