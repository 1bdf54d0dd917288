package runner

import (
	"github.com/pdex-conform/pdex-conform/validators/packages"
)

// packagesOf lists the FHIR packages a run read, for the report.
func packagesOf(reg *packages.Registry, _ string) []packages.Info {
	if reg == nil {
		return nil
	}
	return reg.Packages()
}

// missingPackages names the packages the run's validation would need but
// did not find: the PDex IG package of the edition, and every dependency of
// a loaded package that is not loaded (as the packages' own package.json
// declare them).
func missingPackages(reg *packages.Registry, edition string) []string {
	pdex := "hl7.fhir.us.davinci-pdex#" + edition
	if reg == nil {
		return []string{pdex}
	}
	var out []string
	have := false
	for _, p := range reg.Packages() {
		// The IG is published as hl7.fhir.us.davinci-pdex, and its R4 build
		// as hl7.fhir.us.davinci-pdex.r4.
		if (p.Name == "hl7.fhir.us.davinci-pdex" || p.Name == "hl7.fhir.us.davinci-pdex.r4") && p.Version == edition {
			have = true
		}
	}
	if !have {
		out = append(out, pdex)
	}
	seen := map[string]bool{}
	for _, m := range reg.Missing() {
		id := m.Dependency.Name + "#" + m.Dependency.Version
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id+" (needed by "+m.Package+")")
	}
	return out
}
