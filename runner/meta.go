package runner

import (
	"github.com/pdex-conform/pdex-conform/reports"
)

// Meta describes the run for the reports: what ran, against what, with
// which inputs and packages, and what the target says it is. toolVersion
// names the build; reference says the target was the in-process reference
// server. Secrets and faults are the caller's to set.
func (res *Result) Meta(toolVersion string, reference bool) reports.Meta {
	cfg := res.Config
	m := reports.Meta{
		Target: cfg.Target, Reference: reference, Edition: cfg.Edition, EditionWhy: res.EditionWhy, ToolVersion: toolVersion,
		Started: res.Started, Duration: res.Duration, Ended: res.Started.Add(res.Duration),
		Group: cfg.Group, AuthMode: cfg.Auth.Mode, LabelFilter: cfg.LabelFilter,
		FailOnShould: cfg.FailOn == "should", Operation: cfg.Operation,
		Inputs: reports.InputsOf(cfg), MissingPackages: res.Missing, PackagesNote: res.PackagesNote,
		Attestations: map[string]reports.Attestation{},
	}
	for _, p := range res.Packages {
		m.Packages = append(m.Packages, reports.Package{Name: p.Name, Version: p.Version, Path: p.Path})
	}
	for id, a := range cfg.Attestations {
		m.Attestations[id] = reports.Attestation{Attested: a.Attested, By: a.By, Date: a.Date, Evidence: a.Evidence}
	}
	if cs := res.Capability; cs != nil {
		m.Server = &reports.Server{
			Software: cs.Software.Name, Version: cs.Software.Version, ReleaseDate: cs.Software.ReleaseDate,
			Description: cs.Implementation.Description, URL: cs.Implementation.URL, FHIRVersion: cs.FHIRVersion,
			Instantiates: cs.Instantiates, ImplementationGuide: cs.ImplementationGuide,
		}
	}
	return m
}
