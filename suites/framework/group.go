package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Group is what the suites need of the attribution Group.
type Group struct {
	Raw    []byte
	Parsed map[string]any
	// Members are the patient ids of the active members (Group.member
	// whose inactive is not true), in Group order: an inactive member is
	// listed but not attributed, so no export owes their data.
	Members []string
	// Starts holds each member's attribution start (member.period.start,
	// a FHIR dateTime, often a date) where the Group gives one.
	Starts map[string]string
	// LastUpdated is the Group's meta.lastUpdated (zero when absent or
	// unreadable).
	LastUpdated time.Time
}

// ReadGroup reads the configured Group (GET Group/{id}).
func (e *Env) ReadGroup(ctx context.Context) (*Group, error) {
	resp, err := e.Client().Do(ctx, bulkGet("Group/"+url.PathEscape(e.Config.Group)))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET Group/%s answered HTTP %d: %s", e.Config.Group, resp.StatusCode, OutcomeText(resp.Body))
	}
	return ParseGroup(resp.Body)
}

// ParseGroup reads a Group's members.
func ParseGroup(raw []byte) (*Group, error) {
	g := &Group{Raw: raw}
	if err := json.Unmarshal(raw, &g.Parsed); err != nil {
		return nil, fmt.Errorf("the Group is not JSON: %w", err)
	}
	var typed struct {
		Meta struct {
			LastUpdated string `json:"lastUpdated"`
		} `json:"meta"`
		Member []struct {
			Entity struct {
				Reference string `json:"reference"`
			} `json:"entity"`
			Period struct {
				Start string `json:"start"`
			} `json:"period"`
			Inactive bool `json:"inactive"`
		} `json:"member"`
	}
	json.Unmarshal(raw, &typed)
	g.LastUpdated, _ = time.Parse(time.RFC3339Nano, typed.Meta.LastUpdated)
	g.Starts = map[string]string{}
	for _, m := range typed.Member {
		id, ok := patientRef(m.Entity.Reference)
		if !ok || m.Inactive {
			continue
		}
		if !slices.Contains(g.Members, id) {
			g.Members = append(g.Members, id)
		}
		if m.Period.Start != "" {
			g.Starts[id] = m.Period.Start
		}
	}
	return g, nil
}

func patientRef(ref string) (string, bool) {
	const p = "Patient/"
	for i := len(ref) - len(p); i >= 0; i-- {
		if ref[i:i+len(p)] == p {
			return ref[i+len(p):], ref[i+len(p):] != ""
		}
	}
	return "", false
}

// Members returns the Group's member ids, read once per run.
func (e *Env) Members(ctx context.Context) ([]string, error) {
	e.mu.Lock()
	m := e.members
	e.mu.Unlock()
	if m != nil {
		return m, nil
	}
	g, err := e.ReadGroup(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.members = g.Members
	e.mu.Unlock()
	return g.Members, nil
}

// Subset returns the members to use in subset scenarios: the configured
// ones, or else two members of the Group whose Patient the full Group
// export holds and who are not configured as opted out. Choosing from the
// full export copes with opt-outs the configuration does not know of: a
// member whose data a conformant server exports has not opted out, so no
// scenario holds the server to exporting an opted-out member. The error
// says why there is none.
func (e *Env) Subset(ctx context.Context) ([]string, error) {
	if len(e.Config.Members) > 0 {
		return e.Config.Members, nil
	}
	all, err := e.Members(ctx)
	if err != nil {
		return nil, err
	}
	full, err := e.FullExport(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range all {
		if _, ok := full.Resources[Key("Patient", m)]; ok && !slices.Contains(e.Config.OptedOut, m) {
			out = append(out, m)
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no member of Group %s who is not configured as opted out has a Patient in the full Group export", e.Config.Group)
	}
	return out, nil
}
