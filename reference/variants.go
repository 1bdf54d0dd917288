package reference

import (
	"fmt"
	"slices"
	"strings"
)

// Variant names: each switches on a behaviour that a conformant server may
// legitimately show, where the specification leaves room. The whole suite
// must pass against every variant (runner tests prove it), so that no spec
// holds one reading of the specification against a server that follows
// another.
const (
	// VariantSlowJobs keeps every export running for 1.5 s, so that status
	// requests see it in progress (202 with Retry-After) several times.
	VariantSlowJobs = "slow-jobs"
)

// Variant describes one conformant variation of the server.
type Variant struct {
	Name        string
	Description string
	// Reading cites the text that allows the variation.
	Reading string
	// Editions the variant exists in; empty means every edition.
	Editions []string
}

// Variants lists every variant switch.
func Variants() []Variant { return slices.Clone(variantTable) }

var variantTable = []Variant{
	{Name: VariantSlowJobs, Description: "keep every export running for at least 1.5 s: status requests answer 202 with Retry-After several times",
		Reading: "Bulk Data export.html, Status Request: in progress, the server answers 202 (X-Progress and Retry-After optional); an export may take any time"},
}

type variants map[string]bool

func (v variants) has(name string) bool { return v[name] }

// parseVariants checks variant names against the table.
func parseVariants(names []string) (variants, error) {
	v := variants{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.ContainsFunc(variantTable, func(k Variant) bool { return k.Name == n }) {
			return nil, fmt.Errorf("unknown variant %q (see serve --list-variants)", n)
		}
		v[n] = true
	}
	return v, nil
}
