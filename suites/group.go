package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// Systems and extensions of the ATR group profile (SPEC §6).
const (
	systemNPI                = "http://hl7.org/fhir/sid/us-npi"
	systemTIN                = "urn:oid:2.16.840.1.113883.4.4"
	extAttributionListStatus = "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-attributionListStatus"
)

// atrGroup is what the Group specs read of the attribution Group.
type atrGroup struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
	Extension []struct {
		URL       string `json:"url"`
		ValueCode string `json:"valueCode"`
	} `json:"extension"`
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Type           string `json:"type"`
	Actual         *bool  `json:"actual"`
	Characteristic []struct {
		Code struct {
			Coding []struct {
				System string `json:"system"`
				Code   string `json:"code"`
			} `json:"coding"`
		} `json:"code"`
	} `json:"characteristic"`
	ManagingEntity *struct {
		Reference string `json:"reference"`
	} `json:"managingEntity"`
	Member []struct {
		Entity *struct {
			Reference string `json:"reference"`
		} `json:"entity"`
	} `json:"member"`
}

// groupIDs lists the ids of Groups, in order.
func groupIDs(gs []atrGroup) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

// readATRGroup reads the configured Group, failing the spec when it cannot.
func readATRGroup(ctx context.Context, e *framework.Env) atrGroup {
	g, err := e.ReadGroup(ctx)
	framework.NoError(err, "Reading Group/"+e.Config.Group)
	var a atrGroup
	framework.Checkf(json.Unmarshal(g.Raw, &a) == nil, "Group/%s is not a JSON Group", e.Config.Group)
	return a
}

// searchGroups runs GET Group?name=value and returns the Groups the
// searchset Bundle matched, failing the spec on anything else.
func searchGroups(ctx context.Context, e *framework.Env, name, value string) []atrGroup {
	q := "Group?" + url.Values{name: {value}}.Encode()
	resp, err := e.Client().Do(ctx, framework.Get(q))
	framework.NoError(err, fmt.Sprintf("Sending GET %s", q))
	if resp.StatusCode != http.StatusOK {
		framework.Failf("GET %s was answered HTTP %d: %s", q, resp.StatusCode, framework.OutcomeText(resp.Body))
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if json.Unmarshal(resp.Body, &b) != nil || b.ResourceType != "Bundle" || b.Type != "searchset" {
		framework.Failf("GET %s must answer a searchset Bundle; it answered %s", q, framework.OutcomeText(resp.Body))
	}
	var out []atrGroup
	for _, en := range b.Entry {
		// Included resources (search.mode include, or an OperationOutcome)
		// are not matches.
		var g atrGroup
		if json.Unmarshal(en.Resource, &g) == nil && g.ResourceType == "Group" && en.Search.Mode != "include" && en.Search.Mode != "outcome" {
			out = append(out, g)
		}
	}
	return out
}

// judgeSearch checks a Group search both ways: the configured Group is
// among the matches, and every match meets the criterion (a server that
// ignores the parameter returns Groups that do not).
func judgeSearch(e *framework.Env, q string, found []atrGroup, meets func(atrGroup) bool) {
	var ids, wrong []string
	for _, g := range found {
		ids = append(ids, g.ID)
		if !meets(g) {
			wrong = append(wrong, "Group/"+g.ID)
		}
	}
	if !slices.Contains(ids, e.Config.Group) {
		framework.Failf("GET %s did not find Group/%s, which meets it; it found %d Groups", q, e.Config.Group, len(found))
	}
	if d := framework.Offending(framework.KeySet(wrong...)); !d.Empty() {
		framework.Failf("GET %s matched Groups that do not meet the criterion: %s", q, d)
	}
}

// noMatch checks that a search criterion no Group meets finds none.
func noMatch(ctx context.Context, e *framework.Env, name, value string) {
	found := searchGroups(ctx, e, name, value)
	if len(found) > 0 {
		var ids []string
		for _, g := range found {
			ids = append(ids, "Group/"+g.ID)
		}
		framework.Failf("GET Group?%s=%s, which no Group meets, matched %d Groups (e.g. %s): the parameter is not applied",
			name, value, len(found), strings.Join(first(ids, 3), ", "))
	}
}

// hasIdentifier reports whether a Group carries an identifier
// (system|value).
func (g atrGroup) hasIdentifier(system, value string) bool {
	return slices.ContainsFunc(g.Identifier, func(id struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}) bool {
		return id.System == system && id.Value == value
	})
}

// hasCharacteristic reports whether a Group has a characteristic coded
// [system|]code: a token without a system matches the code in any system.
func (g atrGroup) hasCharacteristic(token string) bool {
	system, code, withSystem := strings.Cut(token, "|")
	if !withSystem {
		system, code = "", token
	}
	for _, c := range g.Characteristic {
		for _, cd := range c.Code.Coding {
			if cd.Code == code && (!withSystem || cd.System == system) {
				return true
			}
		}
	}
	return false
}

var npiPattern = regexp.MustCompile(`^\d{10}$`)

func registerGroup(e *framework.Env) {
	Describe("Group", func() {
		It("reads the attribution Group", e.Req("PA-GROUP-01"), func(ctx SpecContext) {
			resp, err := e.Client().Do(ctx, framework.Get("Group/"+url.PathEscape(e.Config.Group)))
			framework.NoError(err, "Sending GET Group/"+e.Config.Group)
			framework.Checkf(resp.StatusCode == http.StatusOK, "GET Group/%s was answered HTTP %d, not 200: %s", e.Config.Group, resp.StatusCode, framework.OutcomeText(resp.Body))
			var g atrGroup
			framework.Checkf(json.Unmarshal(resp.Body, &g) == nil, "GET Group/%s did not answer JSON: %s", e.Config.Group, framework.OutcomeText(resp.Body))
			framework.Checkf(g.ResourceType == "Group", "GET Group/%s answered a %q, not a Group", e.Config.Group, g.ResourceType)
			framework.Checkf(g.ID == e.Config.Group, "GET Group/%s answered Group/%s: a read returns the resource with the id asked for", e.Config.Group, g.ID)
		})

		// Bulk Data (Group export): a server "SHOULD support reading and
		// searching for Group resource ... based on stable characteristics
		// such as Group.identifier"; PDex from 2.1.0 makes the identifier
		// and characteristic searches SHALL (§pdex-350). A search works both
		// ways (FHIR search: the result holds the resources that meet the
		// criteria): it finds the Group by its identifier, every Group it
		// returns carries that identifier, and an identifier no Group has
		// finds none.
		It("finds the Group by identifier, and only Groups with it", e.Req("PA-GROUP-02"), func(ctx SpecContext) {
			g := readATRGroup(ctx, e)
			// Prefer the NPI or TIN: they are what a provider knows its
			// attribution list by.
			var system, value string
			for _, id := range g.Identifier {
				if id.System == "" || id.Value == "" {
					continue
				}
				if system == "" || id.System == systemNPI || id.System == systemTIN {
					system, value = id.System, id.Value
				}
				if id.System == systemNPI || id.System == systemTIN {
					break
				}
			}
			if system == "" {
				framework.Failf("Group/%s has no identifier with system and value to search by (the ATR group carries npi or tin identifiers)", e.Config.Group)
			}
			token := system + "|" + value
			judgeSearch(e, "Group?identifier="+token, searchGroups(ctx, e, "identifier", token),
				func(m atrGroup) bool { return m.hasIdentifier(system, value) })
			noMatch(ctx, e, "identifier", system+"|pdex-conform-no-such-identifier")
		})

		// The same both ways for characteristic. ATR does not require a
		// Group to have a characteristic: for one without, only the absent
		// direction can be checked (a characteristic no Group has finds
		// none), and the spec then skips, saying the other went untested.
		It("finds the Group by characteristic, and only Groups with it", e.Req("PA-GROUP-02"), func(ctx SpecContext) {
			g := readATRGroup(ctx, e)
			token := characteristicToken(g)
			system, _, _ := strings.Cut(token, "|")
			if system == token || system == "" {
				system = "urn:pdex-conform:no-such-system"
			}
			noMatch(ctx, e, "characteristic", system+"|pdex-conform-no-such-characteristic")
			if token == "" {
				Skip(fmt.Sprintf("Group/%s has no characteristic to search by: only checked that a characteristic no Group has finds nothing", e.Config.Group))
			}
			judgeSearch(e, "Group?characteristic="+token, searchGroups(ctx, e, "characteristic", token),
				func(m atrGroup) bool { return m.hasCharacteristic(token) })
		})

		It("meets the ATR group shape and lists Patients as members", e.Req("PA-GROUP-03"), func(ctx SpecContext) {
			g := readATRGroup(ctx, e)
			p := atrProblems(g)
			framework.Checkf(len(p) == 0, "Group/%s does not meet the ATR group profile: %s", e.Config.Group, strings.Join(p, "; "))
		})
	})
}

// characteristicToken returns the first characteristic code of the Group as
// a token search value ([system|]code), or "".
func characteristicToken(g atrGroup) string {
	for _, c := range g.Characteristic {
		for _, cd := range c.Code.Coding {
			switch {
			case cd.Code == "":
			case cd.System == "":
				return cd.Code
			default:
				return cd.System + "|" + cd.Code
			}
		}
	}
	return ""
}

// atrProblems lists how a Group departs from the ATR group profile's
// constraints that SPEC §6 names. Identifier slices: the profile slices
// identifier by system into npi and tin (each at most once); this project
// reads the attribution list as needing at least one of them, since that
// is how the contract holder is identified.
func atrProblems(g atrGroup) []string {
	var p []string
	if g.ResourceType != "Group" {
		p = append(p, fmt.Sprintf("resourceType is %q", g.ResourceType))
	}
	if g.Meta.LastUpdated == "" {
		p = append(p, "meta.lastUpdated is missing (1..1)")
	}
	if g.Type != "person" {
		p = append(p, fmt.Sprintf("type is %q, want person", g.Type))
	}
	if g.Actual == nil || !*g.Actual {
		p = append(p, "actual is not true")
	}
	if g.ManagingEntity == nil || g.ManagingEntity.Reference == "" {
		p = append(p, "managingEntity is missing (1..1)")
	}
	var statuses []string
	for _, x := range g.Extension {
		if x.URL == extAttributionListStatus {
			statuses = append(statuses, x.ValueCode)
		}
	}
	switch {
	case len(statuses) != 1:
		p = append(p, fmt.Sprintf("extension ext-attributionListStatus appears %d times, want exactly once", len(statuses)))
	case statuses[0] != "draft" && statuses[0] != "open" && statuses[0] != "final":
		p = append(p, fmt.Sprintf("ext-attributionListStatus is %q, want draft, open or final", statuses[0]))
	}
	npi, tin := 0, 0
	for _, id := range g.Identifier {
		switch id.System {
		case systemNPI:
			npi++
			if !npiPattern.MatchString(id.Value) {
				p = append(p, fmt.Sprintf("npi identifier %q is not ten digits", id.Value))
			}
		case systemTIN:
			tin++
			if strings.TrimSpace(id.Value) == "" {
				p = append(p, "tin identifier has no value")
			}
		}
	}
	if npi > 1 || tin > 1 {
		p = append(p, fmt.Sprintf("identifier slices npi and tin are 0..1; have %d npi and %d tin", npi, tin))
	}
	if npi+tin == 0 {
		p = append(p, "no npi ("+systemNPI+") or tin ("+systemTIN+") identifier")
	}
	if len(g.Member) == 0 {
		p = append(p, "no member")
	}
	for i, m := range g.Member {
		if m.Entity == nil || !isPatientReference(m.Entity.Reference) {
			ref := ""
			if m.Entity != nil {
				ref = m.Entity.Reference
			}
			p = append(p, fmt.Sprintf("member[%d].entity %q is not a Patient reference", i, ref))
		}
	}
	return p
}

// isPatientReference accepts relative (Patient/id) and absolute
// (…/Patient/id) literal references.
func isPatientReference(ref string) bool {
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return false
	}
	id := ref[i+len("Patient/"):]
	// A versioned reference (Patient/id/_history/n) still names a Patient.
	id, _, _ = strings.Cut(id, "/")
	return id != ""
}
