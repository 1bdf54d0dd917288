package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/client/bulk"
	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// Helpers of the specs that only editions 2.1.0 and 2.2.0 have (kinds.go,
// tracking.go, providergroup.go, consent.go, membermatch.go). What an
// edition does is read from e.Edition; none of them names an edition.

// sinceLongAgo is the _since a provider-delta kick-off carries when the
// edition requires one (2.2.0 §pdex-363) and the scenario is not about the
// window: before any data a payer holds (Patient Access data goes back to
// 2016, E21 "_since").
const sinceLongAgo = "2000-01-01T00:00:00Z"

// kindParams are the edition's parameters for a kind of export, with the
// _since a provider-delta needs in editions that require it, plus extras.
func kindParams(e *framework.Env, k edition.Kind, extra ...[]bulk.Param) []bulk.Param {
	ps := params(e, k, extra...)
	if k == edition.Delta && e.Edition.DeltaNeedsSince && !hasParam(ps, "_since") {
		ps = append(ps, param("_since", "valueInstant", sinceLongAgo)...)
	}
	return ps
}

func hasParam(ps []bulk.Param, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// mustRefuse sends a kick-off the edition says the server should refuse and
// fails the spec, with a sentence naming what was sent and why it should be
// refused, unless the answer is 400 with an OperationOutcome.
func mustRefuse(ctx context.Context, e *framework.Env, ps []bulk.Param, what, why string) {
	resp, err := e.Attempt(ctx, framework.ExportRequest{Params: ps})
	if err != nil {
		Fail(fmt.Sprintf("The kick-off %s got no answer: %v.", what, err))
	}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		Fail(fmt.Sprintf("The server accepted (202) a kick-off %s; it should refuse it with 400 and an OperationOutcome: %s.", what, why))
	case resp.StatusCode != http.StatusBadRequest:
		Fail(fmt.Sprintf("The server answered HTTP %d to a kick-off %s, not 400 (%s): %s", resp.StatusCode, what, why, framework.OutcomeText(resp.Body)))
	case !framework.IsOperationOutcome(resp.Body):
		Fail(fmt.Sprintf("The server refused a kick-off %s with 400 but without an OperationOutcome: %s", what, framework.OutcomeText(resp.Body)))
	}
}

// groupJSON is what the edition specs read of a Group.
type groupJSON struct {
	ID         string `json:"id"`
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	ManagingEntity struct {
		Reference string `json:"reference"`
	} `json:"managingEntity"`
	Characteristic []struct {
		ValueReference struct {
			Reference string `json:"reference"`
		} `json:"valueReference"`
	} `json:"characteristic"`
	Member []groupMember `json:"member"`
}

type groupMember struct {
	Entity struct {
		Reference string `json:"reference"`
	} `json:"entity"`
	Period struct {
		Start string `json:"start"`
	} `json:"period"`
	Extension []struct {
		URL           string `json:"url"`
		ValueDateTime string `json:"valueDateTime"`
		ValueString   string `json:"valueString"`
	} `json:"extension"`
}

// readGroup reads the configured Group as the edition specs need it,
// blocking the spec when it cannot be read (the Group specs say why).
func readGroup(ctx context.Context, e *framework.Env) (*groupJSON, map[string]any) {
	g, err := e.ReadGroup(ctx)
	if err != nil {
		framework.Block(prereqGroup, err.Error())
	}
	var gj groupJSON
	if err := json.Unmarshal(g.Raw, &gj); err != nil {
		Fail(fmt.Sprintf("Group/%s is not a JSON Group: %v", e.Config.Group, err))
	}
	return &gj, g.Parsed
}

// byMember indexes a Group's member entries by patient id.
func (g *groupJSON) byMember() map[string]groupMember {
	out := make(map[string]groupMember, len(g.Member))
	for _, m := range g.Member {
		if id, ok := patientIDOf(m.Entity.Reference); ok {
			out[id] = m
		}
	}
	return out
}

// values returns the values of one extension on a member entry.
func (m groupMember) values(url string) []string {
	var out []string
	for _, x := range m.Extension {
		if x.URL == url {
			v := x.ValueDateTime
			if v == "" {
				v = x.ValueString
			}
			out = append(out, v)
		}
	}
	return out
}

// npi returns the Group's NPI identifier.
func (g *groupJSON) npi() string {
	for _, id := range g.Identifier {
		if id.System == systemNPI {
			return id.Value
		}
	}
	return ""
}

// patientIDOf reads the id of a Patient reference (relative, absolute or
// versioned).
func patientIDOf(ref string) (string, bool) {
	if !isPatientReference(ref) {
		return "", false
	}
	id := ref[strings.LastIndex(ref, "Patient/")+len("Patient/"):]
	id, _, _ = strings.Cut(id, "/")
	return id, true
}

// shortName is the last path segment of a canonical.
func shortName(canonical string) string {
	return canonical[strings.LastIndex(canonical, "/")+1:]
}

// sample names up to n of a list, for messages.
func sample(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(" and %d more", len(xs)-n)
}
