package reference

import (
	"context"
	"fmt"
	"slices"
)

// Facts are what the server knows of itself that a tester needs to drive it:
// which Group to export, who is in it and who opted out, a patient outside
// it, a Group the second client may not export, and the registered test
// clients with their private keys. They are neutral facts, in the server's
// terms: the harness maps them into its own run configuration, so that the
// server under test depends on nothing of the harness.
type Facts struct {
	// BaseURL is the FHIR base URL.
	BaseURL string
	// Edition is the PDex edition served.
	Edition string
	// Group is the first Group the test client may export; Members are its
	// members as the Group lists them, in Group order; OptedOut the members
	// attributed to it who opted out (from 2.1.0 the Group does not list
	// them).
	Group    string
	Members  []string
	OptedOut []string
	// ConsentMember is a listed member who has not opted out, the last in
	// Group order, whom a tester may opt out and back in by writing
	// Consents; "" when the edition takes no Consent writes.
	ConsentMember string
	// ConsentScope is the scope that covers those writes.
	ConsentScope string
	// NonMember is a patient the server holds who is in no Group and has
	// not opted out; "" when there is none.
	NonMember string
	// OtherGroup is a Group the test client may export and the other client
	// may not; "" when there is none.
	OtherGroup string
	// LastDownloadExtension is the extension that records the last
	// download, when the edition records one.
	LastDownloadExtension string
	// Client is the test client; Other the second registered client, nil
	// when there is none.
	Client TestClient
	Other  *TestClient
	// Scope is the scope the test clients may ask for.
	Scope string
	// Operation is the export operation served: "davinci-data-export", or
	// "export" for plain Bulk Data.
	Operation string
}

// Facts reports what a tester needs to drive this server.
func (s *Server) Facts(ctx context.Context) (*Facts, error) {
	groups, err := s.groupIDs(ctx)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("the data set holds no Group")
	}
	group := groups[0]
	opted, err := s.optedOut(ctx)
	if err != nil {
		return nil, err
	}
	f := &Facts{
		BaseURL:               s.opts.BaseURL,
		Edition:               s.edition.Name,
		Group:                 group,
		LastDownloadExtension: s.edition.LastDownloadURL,
		Scope:                 "system/*.read",
		Operation:             s.opts.Operation,
	}
	// Every stored member, whether or not the Group as served lists the
	// opted-out ones (2.1.0 and later, and the opted-out-outside-group
	// variant, do not).
	stored, err := s.storedMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	outside := s.optedOutOutsideGroup()
	for _, m := range stored {
		switch {
		case !opted[m]:
			f.Members = append(f.Members, m)
		case outside:
			f.OptedOut = append(f.OptedOut, m)
		default:
			f.Members = append(f.Members, m)
			f.OptedOut = append(f.OptedOut, m)
		}
	}
	if s.edition.ConsentWrite {
		for i := len(stored) - 1; i >= 2; i-- {
			if !opted[stored[i]] {
				f.ConsentMember, f.ConsentScope = stored[i], "system/Consent.cud"
				break
			}
		}
	}
	if nm, err := s.nonMember(ctx, stored); err == nil {
		f.NonMember = nm
	}
	var main *TestClient
	for i := range s.auth.clients {
		switch c := s.auth.clients[i]; c.ID {
		case TestClientID:
			main = &c
		case OtherClientID:
			f.Other = &c
		}
	}
	if main == nil {
		return nil, fmt.Errorf("the test client is not registered")
	}
	f.Client = *main
	if f.Other != nil {
		// A Group the main client may export but the other may not.
		for _, g := range groups {
			if !slices.Contains(f.Other.Groups, g) {
				f.OtherGroup = g
				break
			}
		}
	}
	return f, nil
}
