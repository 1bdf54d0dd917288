package differential

import (
	"encoding/json"
	"strings"
	"testing"
)

// Conformant instances written for these tests from the profiles' rules
// (not copied from the IG's examples).
const (
	providerGroup = `{"resourceType":"Group","type":"person","actual":true,
	  "code":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMemberAttributionCS","code":"pdexprovidergroup"}]},
	  "characteristic":[{"code":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMemberAttributionCS","code":"pdexprovidergroup"}]},
	    "valueReference":{"identifier":{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}},"exclude":false}],
	  "extension":[{"url":"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-members-opted-out","valueQuantity":{"value":2}}],
	  "member":[{"entity":{"reference":"Patient/p1"},"extension":[
	    {"url":"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-last-transmission","valueDateTime":"2026-01-01T00:00:00Z"},
	    {"url":"http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-last-types","valueString":"Patient"}]}]}`
	matched = `{"resourceType":"Group","id":"m1","type":"person","actual":true,
	  "code":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS","code":"match"}]},
	  "managingEntity":{"reference":"Organization/payer"},
	  "characteristic":[{"code":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS","code":"match"}]},"exclude":false}],
	  "member":[{"entity":{"reference":"Patient/p1"}},{"entity":{"reference":"https://payer.example/fhir/Patient/p2"}}]}`
	noMatch = `{"resourceType":"Group","type":"person","actual":true,
	  "code":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS","code":"nomatch"}]},
	  "managingEntity":{"identifier":{"system":"urn:oid:2.16.840.1.113883.6.300","value":"60178"}},
	  "contained":[{"resourceType":"Patient","id":"s1"}],
	  "member":[{"entity":{"reference":"#s1"}}]}`
	optOut = `{"resourceType":"Group","active":true,"type":"person","actual":true,
	  "code":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS","code":"consentconstraint"}]},
	  "characteristic":[{"code":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS","code":"consentconstraint"}]},
	    "valueCodeableConcept":{"coding":[{"system":"http://hl7.org/fhir/us/davinci-pdex/CodeSystem/opt-out-scope","code":"global"}]},"exclude":false}],
	  "member":[{"entity":{"reference":"Patient/p3"}}]}`
	response = `{"resourceType":"Parameters","parameter":[
	  {"name":"MatchedMembers","resource":{"resourceType":"Group"}},
	  {"name":"NonMatchedMembers","resource":{"resourceType":"Group"}}]}`
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Each rule is shown to hold on a conformant instance and to catch, alone,
// the one change that breaks it.
func TestRules(t *testing.T) {
	type rule func(map[string]any) []string
	tracking := func(g map[string]any) []string { return ProviderGroupProblems(g, true) }
	untracked := func(g map[string]any) []string { return ProviderGroupProblems(g, false) }
	tests := []struct {
		name  string
		check rule
		base  string
		edit  func(m map[string]any)
		want  string // "" = no problem
	}{
		{"provider group", tracking, providerGroup, nil, ""},
		{"provider group without code", tracking, providerGroup, func(m map[string]any) { delete(m, "code") }, "pdex-provider-group: code is 1..1"},
		{"provider group code outside the value set", tracking, providerGroup, func(m map[string]any) {
			m["code"] = map[string]any{"coding": []any{map[string]any{"system": "urn:x", "code": "y"}}}
		}, "no coding from PDexMultiMemberMatchResultVS"},
		{"provider group other characteristic", tracking, providerGroup, func(m map[string]any) {
			m["characteristic"] = append(list(m["characteristic"]), map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": "urn:x", "code": "vbc"}}}, "exclude": false})
		}, "characteristic[1].code is not"},
		{"provider group exclude", tracking, providerGroup, func(m map[string]any) { obj(list(m["characteristic"])[0])["exclude"] = true }, "exclude is not false"},
		{"provider group opted-out count type", tracking, providerGroup, func(m map[string]any) {
			m["extension"] = []any{map[string]any{"url": extMembersOptedOut, "valueInteger": 2}}
		}, "has no valueQuantity"},
		{"provider group lastTransmitted type", tracking, providerGroup, func(m map[string]any) {
			obj(list(obj(list(m["member"])[0])["extension"])[0])["valueString"] = "x"
			delete(obj(list(obj(list(m["member"])[0])["extension"])[0]), "valueDateTime")
		}, "member[0].extension base-ext-last-transmission has no valueDateTime"},
		{"provider group lastTypes twice", tracking, providerGroup, func(m map[string]any) {
			mem := obj(list(m["member"])[0])
			mem["extension"] = append(list(mem["extension"]), map[string]any{"url": extLastTypes, "valueString": "Condition"})
		}, "appears 2 times"},
		{"2.2.0 provider group ignores the removed extensions", untracked, providerGroup, func(m map[string]any) {
			obj(list(obj(list(m["member"])[0])["extension"])[0])["valueString"] = "x"
		}, ""},
		{"provider group not a person group", tracking, providerGroup, func(m map[string]any) { m["type"] = "practitioner" }, "type is \"practitioner\""},

		{"matched", MatchedGroupProblems, matched, nil, ""},
		{"matched without managingEntity", MatchedGroupProblems, matched, func(m map[string]any) { delete(m, "managingEntity") }, "pdex-provider-member-match: managingEntity is 1..1"},
		{"matched managed by a Practitioner", MatchedGroupProblems, matched, func(m map[string]any) {
			m["managingEntity"] = map[string]any{"reference": "Practitioner/x"}
		}, "is not an Organization"},
		{"matched without members", MatchedGroupProblems, matched, func(m map[string]any) { delete(m, "member") }, "member is 1..*"},
		{"matched member not a Patient", MatchedGroupProblems, matched, func(m map[string]any) {
			m["member"] = []any{map[string]any{"entity": map[string]any{"reference": "Practitioner/x"}}}
		}, "is not a Patient reference"},
		{"matched characteristic code", MatchedGroupProblems, matched, func(m map[string]any) {
			obj(list(obj(obj(list(m["characteristic"])[0])["code"])["coding"])[0])["code"] = "nomatch"
		}, "not match (fixed)"},
		{"matched not actual", MatchedGroupProblems, matched, func(m map[string]any) { m["actual"] = false }, "actual is not true"},

		{"no match", NoMatchGroupProblems, noMatch, nil, ""},
		{"no match without code", NoMatchGroupProblems, noMatch, func(m map[string]any) { delete(m, "code") }, "code is 1..1"},
		{"no match names nothing contained", NoMatchGroupProblems, noMatch, func(m map[string]any) { delete(m, "contained") }, "names no contained resource"},
		{"no match without members", NoMatchGroupProblems, noMatch, func(m map[string]any) { delete(m, "member") }, "member is 1..*"},

		{"opt-out", OptOutGroupProblems, optOut, nil, ""},
		{"opt-out inactive", OptOutGroupProblems, optOut, func(m map[string]any) { m["active"] = false }, "active is not true"},
		{"opt-out code", OptOutGroupProblems, optOut, func(m map[string]any) {
			m["code"] = map[string]any{"coding": []any{map[string]any{"system": SystemMatchResult, "code": "nomatch"}}}
		}, "code is not"},
		{"opt-out scope missing", OptOutGroupProblems, optOut, func(m map[string]any) {
			delete(obj(list(m["characteristic"])[0]), "valueCodeableConcept")
		}, "has no valueCodeableConcept"},
		{"opt-out member not a Patient", OptOutGroupProblems, optOut, func(m map[string]any) {
			m["member"] = []any{map[string]any{"entity": map[string]any{"reference": "#s1"}}}
		}, "is not a Patient reference"},

		{"response", MatchResponseProblems, response, nil, ""},
		{"response without MatchedMembers", MatchResponseProblems, response, func(m map[string]any) {
			m["parameter"] = list(m["parameter"])[1:]
		}, "MatchedMembers is 1..1: 0 given"},
		{"response with another parameter", MatchResponseProblems, response, func(m map[string]any) {
			m["parameter"] = append(list(m["parameter"]), map[string]any{"name": "Other", "resource": map[string]any{"resourceType": "Group"}})
		}, "closed slicing"},
		{"response with a value", MatchResponseProblems, response, func(m map[string]any) {
			obj(list(m["parameter"])[0])["valueString"] = "x"
		}, "value[x] 0..0"},
		{"response holding a Bundle", MatchResponseProblems, response, func(m map[string]any) {
			obj(list(m["parameter"])[0])["resource"] = map[string]any{"resourceType": "Bundle"}
		}, "holds no Group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decode(t, tt.base)
			if tt.edit != nil {
				tt.edit(m)
			}
			got := tt.check(m)
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("problems on a conformant instance: %v", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("got %q, want one problem containing %q", got, tt.want)
			}
		})
	}
}

func TestReferenceType(t *testing.T) {
	for ref, want := range map[string]string{
		"Patient/p1": "Patient", "https://x/fhir/Patient/p1": "Patient", "Patient/p1/_history/2": "Patient",
		"#c1": "", "": "", "p1": "",
	} {
		if got := referenceType(ref); got != want {
			t.Errorf("referenceType(%q) = %q, want %q", ref, got, want)
		}
	}
}
