package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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

// readATRGroup reads the configured Group, failing the spec when it cannot.
func readATRGroup(ctx context.Context, e *framework.Env) atrGroup {
	g, err := e.ReadGroup(ctx)
	Expect(err).NotTo(HaveOccurred(), "reading Group/%s", e.Config.Group)
	var a atrGroup
	Expect(json.Unmarshal(g.Raw, &a)).To(Succeed(), "Group/%s is not a JSON Group", e.Config.Group)
	return a
}

// searchGroups runs GET Group?name=value and returns the ids of the Groups
// in the searchset Bundle, failing the spec on anything else.
func searchGroups(ctx context.Context, e *framework.Env, name, value string) []string {
	resp, err := e.Client().Do(ctx, framework.Get("Group?"+url.Values{name: {value}}.Encode()))
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET Group?%s=%s: %s", name, value, framework.OutcomeText(resp.Body))
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
			Search struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	Expect(json.Unmarshal(resp.Body, &b)).To(Succeed(), "a search answers a JSON Bundle")
	Expect(b.ResourceType).To(Equal("Bundle"))
	Expect(b.Type).To(Equal("searchset"))
	var ids []string
	for _, en := range b.Entry {
		// Included resources (search.mode include, or an OperationOutcome)
		// are not matches.
		if en.Resource.ResourceType == "Group" && en.Search.Mode != "include" && en.Search.Mode != "outcome" {
			ids = append(ids, en.Resource.ID)
		}
	}
	return ids
}

var npiPattern = regexp.MustCompile(`^\d{10}$`)

func registerGroup(e *framework.Env) {
	Describe("Group", func() {
		It("reads the attribution Group", e.Req("PA-GROUP-01"), func(ctx SpecContext) {
			resp, err := e.Client().Do(ctx, framework.Get("Group/"+url.PathEscape(e.Config.Group)))
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET Group/%s: %s", e.Config.Group, framework.OutcomeText(resp.Body))
			var g atrGroup
			Expect(json.Unmarshal(resp.Body, &g)).To(Succeed(), "GET Group/%s must answer JSON", e.Config.Group)
			Expect(g.ResourceType).To(Equal("Group"))
			Expect(g.ID).To(Equal(e.Config.Group), "a read returns the resource with the id asked for")
		})

		It("finds the Group by identifier", e.Req("PA-GROUP-02"), func(ctx SpecContext) {
			g := readATRGroup(ctx, e)
			// Prefer the NPI or TIN: they are what a provider knows its
			// attribution list by.
			var token string
			for _, id := range g.Identifier {
				if id.System == "" || id.Value == "" {
					continue
				}
				if token == "" || id.System == systemNPI || id.System == systemTIN {
					token = id.System + "|" + id.Value
				}
				if id.System == systemNPI || id.System == systemTIN {
					break
				}
			}
			if token == "" {
				Fail(fmt.Sprintf("Group/%s has no identifier with system and value to search by (the ATR group carries npi or tin identifiers)", e.Config.Group))
			}
			Expect(searchGroups(ctx, e, "identifier", token)).To(ContainElement(e.Config.Group), "GET Group?identifier=%s must find Group/%s", token, e.Config.Group)
		})

		It("searches Groups by characteristic", e.Req("PA-GROUP-02"), func(ctx SpecContext) {
			g := readATRGroup(ctx, e)
			token := characteristicToken(g)
			if token == "" {
				// ATR does not require a characteristic. The parameter must
				// still be supported: a searchset answer, whatever it holds.
				searchGroups(ctx, e, "characteristic", "urn:pdex-conform:no-such-system|no-such-code")
				return
			}
			Expect(searchGroups(ctx, e, "characteristic", token)).To(ContainElement(e.Config.Group), "GET Group?characteristic=%s must find Group/%s", token, e.Config.Group)
		})

		It("meets the ATR group shape and lists Patients as members", e.Req("PA-GROUP-03"), func(ctx SpecContext) {
			g := readATRGroup(ctx, e)
			p := atrProblems(g)
			Expect(p).To(BeEmpty(), "Group/%s does not meet the ATR group profile: %s", e.Config.Group, strings.Join(p, "; "))
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
