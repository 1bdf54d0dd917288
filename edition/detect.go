package edition

import (
	"fmt"
	"slices"
	"strings"
)

// Auto is the edition name that asks a run to read the edition from the
// target's CapabilityStatement (Detect).
const Auto = "auto"

// pdexCapabilityBase is where PDex's CapabilityStatements live: a server
// that instantiates one of them with |version names the IG version it
// implements.
const pdexCapabilityBase = "http://hl7.org/fhir/us/davinci-pdex/CapabilityStatement/"

// Detect picks the edition a server's CapabilityStatement declares, from
// the canonicals in its instantiates and implementationGuide elements (FHIR
// R4 CapabilityStatement: both are canonical references, which may carry
// |version). A PDex CapabilityStatement or the PDex ImplementationGuide
// named with a version that is a known edition's is evidence for that
// edition. It returns the edition with a sentence saying why; an error
// asking for --edition when there is no evidence, or evidence for several
// editions.
func Detect(instantiates, implementationGuides []string) (*Edition, string, error) {
	found := map[string][]string{} // edition -> evidence
	var unknown, unversioned []string
	consider := func(element, canonical string, isPDex func(base string) bool) {
		base, version, versioned := strings.Cut(canonical, "|")
		if !isPDex(base) {
			return
		}
		if !versioned || version == "" {
			unversioned = append(unversioned, element+" "+canonical)
			return
		}
		for _, e := range editions {
			if slices.Contains(e.IGVersions, version) {
				found[e.Name] = append(found[e.Name], element+" "+canonical)
				return
			}
		}
		unknown = append(unknown, element+" "+canonical)
	}
	for _, c := range implementationGuides {
		consider("implementationGuide", c, func(base string) bool { return base == IGCanonical })
	}
	for _, c := range instantiates {
		consider("instantiates", c, func(base string) bool { return strings.HasPrefix(base, pdexCapabilityBase) })
	}
	ask := "give --edition " + strings.Join(Names(), ", ") + " (or edition: in the configuration)"
	switch len(found) {
	case 1:
		for name, why := range found {
			return MustLookup(name), fmt.Sprintf("the target's CapabilityStatement names %s", strings.Join(why, " and ")), nil
		}
	case 0:
		var hints []string
		if len(unknown) > 0 {
			hints = append(hints, "it names PDex versions this tool does not know ("+strings.Join(unknown, ", ")+")")
		}
		if len(unversioned) > 0 {
			hints = append(hints, "it names PDex without a version ("+strings.Join(unversioned, ", ")+")")
		}
		if len(hints) == 0 {
			hints = append(hints, "its instantiates and implementationGuide name no PDex IG version")
		}
		return nil, "", fmt.Errorf("cannot tell which PDex edition the target implements: %s; %s", strings.Join(hints, "; "), ask)
	}
	var parts []string
	for _, name := range Names() {
		if why, ok := found[name]; ok {
			parts = append(parts, fmt.Sprintf("%s (%s)", name, strings.Join(why, ", ")))
		}
	}
	return nil, "", fmt.Errorf("the target's CapabilityStatement names several PDex editions: %s; %s", strings.Join(parts, "; "), ask)
}
