// Package differential checks resources against the PDex profiles that
// exist only as differentials: no package this project reads holds a
// snapshot of them (EDITIONS.md §8). PDex 2.2.0 is published without a
// package in reach, and the 2.1.0 package is a CI build whose
// pdex-provider-group predates the final one. Each rule below is a
// constraint of the profile's FSH, written down here and cited; the profile
// validator cannot check what it has no snapshot of.
//
// Sources (davinci-epdx): pdex-provider-group at tag 2.1.0 and at 444e07e9
// input/fsh/ProfilePDexProviderGroup.fsh; the $provider-member-match
// response Groups and Parameters at 444e07e9
// input/fsh/ProviderMultiMemberMatchResponseProfile.fsh and
// ProfileMemberOptOut.fsh; code systems in input/fsh/CodeSystems.fsh and
// ValueSets.fsh (PDexMultiMemberMatchResultVS).
package differential

import (
	"fmt"
	"strings"
)

// Canonicals and code systems the rules name.
const (
	pdexSD = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/"

	ProviderGroup      = pdexSD + "pdex-provider-group"
	MatchedGroup       = pdexSD + "pdex-provider-member-match"
	NoMatchGroup       = pdexSD + "pdex-provider-member-no-match"
	OptOutGroup        = pdexSD + "pdex-member-opt-out"
	MatchResponse      = pdexSD + "provider-parameters-multi-member-match-bundle-out"
	SystemAttribution  = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMemberAttributionCS"
	SystemMatchResult  = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS"
	extLastTransmitted = pdexSD + "base-ext-last-transmission"
	extLastTypes       = pdexSD + "base-ext-last-types"
	extLastTypeFilter  = pdexSD + "base-ext-last-typefilter"
	extMembersOptedOut = pdexSD + "base-ext-members-opted-out"
)

// matchResultVS is PDexMultiMemberMatchResultVS: the codes of
// PdexMultiMemberMatchResultCS and PdexMemberAttributionCS.
var matchResultVS = map[[2]string]bool{
	{SystemMatchResult, "match"}:             true,
	{SystemMatchResult, "nomatch"}:           true,
	{SystemMatchResult, "consentconstraint"}: true,
	{SystemAttribution, "pdexprovidergroup"}: true,
}

// checker collects the problems of one resource against one profile.
type checker struct {
	profile string
	out     []string
}

func (c *checker) addf(format string, a ...any) {
	c.out = append(c.out, fmt.Sprintf(format, a...))
}

func (c *checker) problems() []string {
	name := c.profile[strings.LastIndex(c.profile, "/")+1:]
	for i, p := range c.out {
		c.out[i] = name + ": " + p
	}
	return c.out
}

// ProviderGroupProblems lists how an attribution Group departs from
// pdex-provider-group. withTracking says whether the edition's profile
// defines the Group.member tracking extensions (2.1.0; 2.2.0 deleted them,
// FHIR-55987).
func ProviderGroupProblems(g map[string]any, withTracking bool) []string {
	c := &checker{profile: ProviderGroup}
	groupBasics(c, g)
	// * code 1..1 MS; code from PDexMultiMemberMatchResultVS
	codeIn(c, "code", obj(g["code"]), true)
	// * characteristic.code = $MemberAttribution#pdexprovidergroup
	// * characteristic.exclude = false
	for i, ch := range list(g["characteristic"]) {
		m := obj(ch)
		if !hasCoding(obj(m["code"]), SystemAttribution, "pdexprovidergroup") {
			c.addf("characteristic[%d].code is not %s#pdexprovidergroup (a pattern on every characteristic)", i, SystemAttribution)
		}
		if ex, ok := m["exclude"].(bool); !ok || ex {
			c.addf("characteristic[%d].exclude is not false (fixed)", i)
		}
	}
	// * extension contains MembersOptedOut named optedOut 0..1
	oneExtension(c, "", list(g["extension"]), extMembersOptedOut, "valueQuantity")
	if withTracking {
		// * member.extension contains LastTransmission 0..1, LastTypes 0..1,
		//   LastFilters 0..1
		for i, mem := range list(g["member"]) {
			exts := list(obj(mem)["extension"])
			at := fmt.Sprintf("member[%d].", i)
			oneExtension(c, at, exts, extLastTransmitted, "valueDateTime")
			oneExtension(c, at, exts, extLastTypes, "valueString")
			oneExtension(c, at, exts, extLastTypeFilter, "valueString")
		}
	}
	return c.problems()
}

// MatchedGroupProblems lists how a MatchedMembers Group departs from
// pdex-provider-member-match.
func MatchedGroupProblems(g map[string]any) []string {
	c := &checker{profile: MatchedGroup}
	groupBasics(c, g)
	codeIn(c, "code", obj(g["code"]), true)
	managedByOrganization(c, g, true)
	// * characteristic.code.coding.code = #match; exclude = false
	for i, ch := range list(g["characteristic"]) {
		m := obj(ch)
		for _, cd := range list(obj(m["code"])["coding"]) {
			if code, _ := obj(cd)["code"].(string); code != "match" {
				c.addf("characteristic[%d].code has code %q, not match (fixed)", i, code)
			}
		}
		if ex, ok := m["exclude"].(bool); !ok || ex {
			c.addf("characteristic[%d].exclude is not false (fixed)", i)
		}
	}
	// * member 1..* MS; member.entity: the payer's Patient
	members(c, g, true)
	return c.problems()
}

// NoMatchGroupProblems lists how a NonMatchedMembers Group departs from
// pdex-provider-member-no-match.
func NoMatchGroupProblems(g map[string]any) []string {
	c := &checker{profile: NoMatchGroup}
	groupBasics(c, g)
	codeIn(c, "code", obj(g["code"]), true)
	managedByOrganization(c, g, true)
	// * member 1..* MS; member.entity: the submitted demographics,
	//   typically a contained Patient (#id)
	ms := list(g["member"])
	if len(ms) == 0 {
		c.addf("member is 1..*: none listed")
	}
	contained := map[string]bool{}
	for _, r := range list(g["contained"]) {
		if id, _ := obj(r)["id"].(string); id != "" {
			contained["#"+id] = true
		}
	}
	for i, m := range ms {
		ref, _ := obj(obj(m)["entity"])["reference"].(string)
		switch {
		case ref == "":
			c.addf("member[%d].entity has no reference", i)
		case strings.HasPrefix(ref, "#") && !contained[ref]:
			c.addf("member[%d].entity %s names no contained resource", i, ref)
		}
	}
	return c.problems()
}

// OptOutGroupProblems lists how a ConsentConstrainedMembers Group departs
// from pdex-member-opt-out.
func OptOutGroupProblems(g map[string]any) []string {
	c := &checker{profile: OptOutGroup}
	groupBasics(c, g)
	// * active = true
	if a, ok := g["active"].(bool); !ok || !a {
		c.addf("active is not true (fixed)")
	}
	// * code = PdexMultiMemberMatchResultCS#consentconstraint
	if !hasCoding(obj(g["code"]), SystemMatchResult, "consentconstraint") {
		c.addf("code is not %s#consentconstraint (fixed)", SystemMatchResult)
	}
	managedByOrganization(c, g, false)
	// * characteristic.code 1..1 = #consentconstraint; value[x] 1..1
	//   CodeableConcept; exclude = false
	for i, ch := range list(g["characteristic"]) {
		m := obj(ch)
		if !hasCoding(obj(m["code"]), SystemMatchResult, "consentconstraint") {
			c.addf("characteristic[%d].code is not %s#consentconstraint (fixed)", i, SystemMatchResult)
		}
		if _, ok := m["valueCodeableConcept"].(map[string]any); !ok {
			c.addf("characteristic[%d] has no valueCodeableConcept (value[x] 1..1, only CodeableConcept: the opt-out scope)", i)
		}
		if ex, ok := m["exclude"].(bool); !ok || ex {
			c.addf("characteristic[%d].exclude is not false (fixed)", i)
		}
	}
	// * member.entity 1..1 MS, only Reference(Patient)
	members(c, g, false)
	return c.problems()
}

// MatchResponseProblems lists how a $provider-member-match response
// Parameters departs from provider-parameters-multi-member-match-bundle-out:
// parameter 1..3, sliced by name and closed: MatchedMembers 1..1,
// NonMatchedMembers 0..1, ConsentConstrainedMembers 0..1, each a Group
// resource and no value[x].
func MatchResponseProblems(p map[string]any) []string {
	c := &checker{profile: MatchResponse}
	if rt, _ := p["resourceType"].(string); rt != "Parameters" {
		c.addf("resourceType is %q, not Parameters", rt)
		return c.problems()
	}
	ps := list(p["parameter"])
	if len(ps) < 1 || len(ps) > 3 {
		c.addf("parameter is 1..3: %d given", len(ps))
	}
	seen := map[string]int{}
	for i, x := range ps {
		m := obj(x)
		name, _ := m["name"].(string)
		switch name {
		case "MatchedMembers", "NonMatchedMembers", "ConsentConstrainedMembers":
		default:
			c.addf("parameter[%d] %q is not MatchedMembers, NonMatchedMembers or ConsentConstrainedMembers (closed slicing)", i, name)
			continue
		}
		seen[name]++
		if rt, _ := obj(m["resource"])["resourceType"].(string); rt != "Group" {
			c.addf("parameter %s holds no Group resource", name)
		}
		for k := range m {
			if strings.HasPrefix(k, "value") {
				c.addf("parameter %s has %s (value[x] 0..0)", name, k)
			}
		}
	}
	if seen["MatchedMembers"] != 1 {
		c.addf("MatchedMembers is 1..1: %d given", seen["MatchedMembers"])
	}
	for _, n := range []string{"NonMatchedMembers", "ConsentConstrainedMembers"} {
		if seen[n] > 1 {
			c.addf("%s is 0..1: %d given", n, seen[n])
		}
	}
	return c.problems()
}

// groupBasics: type = #person, actual = true (every profile here).
func groupBasics(c *checker, g map[string]any) {
	if rt, _ := g["resourceType"].(string); rt != "Group" {
		c.addf("resourceType is %q, not Group", rt)
	}
	if t, _ := g["type"].(string); t != "person" {
		c.addf("type is %q, not person (fixed)", t)
	}
	if a, ok := g["actual"].(bool); !ok || !a {
		c.addf("actual is not true (fixed)")
	}
}

// codeIn checks a CodeableConcept bound to PDexMultiMemberMatchResultVS.
func codeIn(c *checker, path string, cc map[string]any, required bool) {
	if cc == nil {
		if required {
			c.addf("%s is 1..1: missing", path)
		}
		return
	}
	for _, cd := range list(cc["coding"]) {
		m := obj(cd)
		s, _ := m["system"].(string)
		code, _ := m["code"].(string)
		if matchResultVS[[2]string{s, code}] {
			return
		}
	}
	c.addf("%s has no coding from PDexMultiMemberMatchResultVS", path)
}

// managedByOrganization: managingEntity only Reference(Organization), 1..1
// when required. A logical reference (identifier only) names no type and is
// accepted.
func managedByOrganization(c *checker, g map[string]any, required bool) {
	me := obj(g["managingEntity"])
	if me == nil {
		if required {
			c.addf("managingEntity is 1..1: missing (the payer Organization)")
		}
		return
	}
	ref, _ := me["reference"].(string)
	if ref != "" && referenceType(ref) != "Organization" {
		c.addf("managingEntity %s is not an Organization", ref)
	}
	if ref == "" && me["identifier"] == nil {
		c.addf("managingEntity has neither reference nor identifier")
	}
}

// members checks member entities are Patient references; required says
// member is 1..*.
func members(c *checker, g map[string]any, required bool) {
	ms := list(g["member"])
	if len(ms) == 0 && required {
		c.addf("member is 1..*: none listed")
	}
	for i, m := range ms {
		ref, _ := obj(obj(m)["entity"])["reference"].(string)
		if referenceType(ref) != "Patient" {
			c.addf("member[%d].entity %q is not a Patient reference", i, ref)
		}
	}
}

// oneExtension checks an extension, when present, appears once with the
// value[x] it is defined with.
func oneExtension(c *checker, at string, exts []any, url, valueKey string) {
	n := 0
	for _, e := range exts {
		m := obj(e)
		if m["url"] != url {
			continue
		}
		n++
		if _, ok := m[valueKey]; !ok {
			c.addf("%sextension %s has no %s", at, url[strings.LastIndex(url, "/")+1:], valueKey)
		}
	}
	if n > 1 {
		c.addf("%sextension %s appears %d times (0..1)", at, url[strings.LastIndex(url, "/")+1:], n)
	}
}

// referenceType is the resource type of a literal reference (relative or
// absolute, possibly versioned), "" when it names none.
func referenceType(ref string) string {
	if strings.HasPrefix(ref, "#") || ref == "" {
		return ""
	}
	ref, _, _ = strings.Cut(ref, "/_history/")
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}

func hasCoding(cc map[string]any, system, code string) bool {
	for _, cd := range list(cc["coding"]) {
		m := obj(cd)
		if m["system"] == system && m["code"] == code {
			return true
		}
	}
	return false
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
