package suites

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
	"github.com/pdex-conform/pdex-conform/validators/differential"
)

// From 2.1.0 the attribution list is a pdex-provider-group (E21
// "Attribution List": "PDexProviderGroup profile SHALL be used"), found by
// its code (§pdex-396) and, in 2.2.0, by the provider in its characteristic
// (characteristic-value-reference); opted-out members are left out of it
// (§pdex-343/344); and the server has a Provider Access CapabilityStatement
// to instantiate (EDITIONS.md §5).
func registerProviderGroup(e *framework.Env) {
	if e.Applies("PA-CAP-21") {
		Describe("Discovery", func() {
			It("says it instantiates the edition's pdex-provider-access-server", e.Req("PA-CAP-21"), func(ctx SpecContext) {
				cs, _, err := framework.ReadCapability(ctx, e.Client())
				if err != nil {
					Fail(fmt.Sprintf("The CapabilityStatement could not be read: %v.", err))
				}
				want := e.Edition.CapabilityStatement + "|" + e.Edition.Name
				if !slices.Contains(cs.Instantiates, want) {
					Fail(fmt.Sprintf("The CapabilityStatement's instantiates (%s) does not name %s: a client cannot tell it implements edition %s.",
						listOrNone(cs.Instantiates), want, e.Edition.Name))
				}
			})

			It("declares the edition's Group search parameters", e.Req("PA-CAP-22"), func(ctx SpecContext) {
				g := readCapability(ctx, e)
				declared := map[string]bool{}
				for _, p := range g.SearchParam {
					declared[p.Name] = true
				}
				var missing []string
				for _, name := range e.Edition.GroupSearchParams {
					if !declared[name] {
						missing = append(missing, name)
					}
				}
				if missing != nil {
					Fail(fmt.Sprintf("The CapabilityStatement declares no Group search parameter %s; edition %s requires %s.",
						strings.Join(missing, ", "), e.Edition.Name, strings.Join(e.Edition.GroupSearchParams, ", ")))
				}
			})
		})
	}
	if e.Applies("PA-GROUP-21") {
		Describe("Group", func() {
			It("meets pdex-provider-group", e.Req("PA-GROUP-21"), func(ctx SpecContext) {
				_, parsed := readGroup(ctx, e)
				p := differential.ProviderGroupProblems(parsed, e.Edition.Tracking == edition.TrackGroupMember)
				if len(p) > 0 {
					Fail(fmt.Sprintf("Group/%s does not meet pdex-provider-group (%d problems): %s.", e.Config.Group, len(p), sample(p, 4)))
				}
			})

			It("is found by its code", e.Req("PA-GROUP-22"), func(ctx SpecContext) {
				found := groupIDs(searchGroups(ctx, e, "code", e.Edition.ProviderGroupCode))
				if !slices.Contains(found, e.Config.Group) {
					Fail(fmt.Sprintf("GET Group?code=%s found %d Groups (%s), not Group/%s.", e.Edition.ProviderGroupCode, len(found), sample(found, 3), e.Config.Group))
				}
			})
		})
	}
	if e.Applies("PA-GROUP-23") {
		Describe("Group", func() {
			It("is found by the provider it is attributed to", e.Req("PA-GROUP-23"), func(ctx SpecContext) {
				_, parsed := readGroup(ctx, e)
				// The search finds Groups by characteristic.valueReference
				// (SearchParameter pdex-group-characteristic-value-reference,
				// "Group.characteristic.value.ofType(Reference)"): a Group
				// that names no provider there cannot be found by it.
				var ref string
				named := false
				for _, c := range list(parsed["characteristic"]) {
					vr, _ := c.(map[string]any)["valueReference"].(map[string]any)
					named = named || vr != nil
					if r, _ := vr["reference"].(string); r != "" && ref == "" {
						ref = r
					}
				}
				switch {
				case !named:
					Fail(fmt.Sprintf("Group/%s names no provider in characteristic.valueReference, so a search by characteristic-value-reference cannot find it.", e.Config.Group))
				case ref == "":
					Skip(fmt.Sprintf("Group/%s names its provider by identifier only, not by a literal reference to search by", e.Config.Group))
				}
				found := groupIDs(searchGroups(ctx, e, "characteristic-value-reference", ref))
				if !slices.Contains(found, e.Config.Group) {
					Fail(fmt.Sprintf("GET Group?characteristic-value-reference=%s found %d Groups (%s), not Group/%s.", ref, len(found), sample(found, 3), e.Config.Group))
				}
			})
		})
	}
	if e.Applies("PA-OPT-02") {
		Describe("Opt-out", func() {
			It("lists no member who opted out in the Group, and lists the others", e.Req("PA-OPT-02"), func(ctx SpecContext) {
				if len(e.Config.OptedOut) == 0 {
					Skip("no opted-out member is known: set optedOut in the configuration")
				}
				g, _ := readGroup(ctx, e)
				listed := g.byMember()
				var still []string
				for _, id := range e.Config.OptedOut {
					if _, ok := listed[id]; ok {
						still = append(still, "Patient/"+id)
					}
				}
				if still != nil {
					Fail(fmt.Sprintf("Group/%s lists %d of the %d members known to have opted out (%s); edition %s leaves them out of the attribution list.",
						e.Config.Group, len(still), len(e.Config.OptedOut), sample(still, 3), e.Edition.Name))
				}
				for _, id := range subset(ctx, e) {
					if _, ok := listed[id]; !ok {
						Fail(fmt.Sprintf("Group/%s does not list Patient/%s, a member who has not opted out.", e.Config.Group, id))
					}
				}
			})
		})
	}
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}
