package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// Group is what the suites need of the attribution Group.
type Group struct {
	Raw     []byte
	Parsed  map[string]any
	Members []string // patient ids
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
		Member []struct {
			Entity struct {
				Reference string `json:"reference"`
			} `json:"entity"`
		} `json:"member"`
	}
	json.Unmarshal(raw, &typed)
	for _, m := range typed.Member {
		if id, ok := patientRef(m.Entity.Reference); ok {
			g.Members = append(g.Members, id)
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
// ones, or two members of the Group that have not opted out.
func (e *Env) Subset(ctx context.Context) ([]string, error) {
	if len(e.Config.Members) > 0 {
		return e.Config.Members, nil
	}
	all, err := e.Members(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range all {
		if !slices.Contains(e.Config.OptedOut, m) {
			out = append(out, m)
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the Group %s has no member who has not opted out", e.Config.Group)
	}
	return out, nil
}
