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
	// VariantTrackSnapshot records 2.1.0's Group.member tracking on
	// provider-snapshot exports too.
	VariantTrackSnapshot = "track-snapshot"
	// VariantSuppressConstrained reports opted-out members of a member
	// match as not matched instead of consent-constrained.
	VariantSuppressConstrained = "suppress-consent-constrained"
	// VariantMemberMatchSync answers $provider-member-match synchronously.
	VariantMemberMatchSync = "member-match-sync"
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
	{Name: VariantTrackSnapshot, Description: "record lastTransmitted, lastResources and lastFilters on provider-snapshot exports too",
		Reading:  "PDex 2.1.0 provider-access-api.md: the member extensions \"SHALL be updated by the $davinci-data-export PDex Use Case Operation\" and _type/_typeFilter \"SHALL record\" with no kind exempted; only download is tied to tracking explicitly (EDITIONS.md §2, §9.3)",
		Editions: []string{"2.1.0"}},
	{Name: VariantSuppressConstrained, Description: "report opted-out members of a member match in NonMatchedMembers, with no ConsentConstrainedMembers Group",
		Reading:  "PDex 2.2.0 §pdex-261a: the payer SHOULD suppress ConsentConstrainedMembers when opt-out status is sensitive; the response Parameters profile makes it 0..1",
		Editions: []string{"2.2.0"}},
	{Name: VariantMemberMatchSync, Description: "answer $provider-member-match with 200 and the response Parameters, even under Prefer: respond-async",
		Reading:  "The ProviderMemberMatch OperationDefinition declares out parameters and the IG has a Parameters response example; provider-access-api-v2.md describes the async form (EDITIONS.md §1, §9.4: accept both)",
		Editions: []string{"2.2.0"}},
}

type variants map[string]bool

func (v variants) has(name string) bool { return v[name] }

// parseVariants checks variant names against the table and the edition.
func parseVariants(names []string, edition string) (variants, error) {
	v := variants{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		i := slices.IndexFunc(variantTable, func(k Variant) bool { return k.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown variant %q (see serve --list-variants)", n)
		}
		if eds := variantTable[i].Editions; len(eds) > 0 && !slices.Contains(eds, edition) {
			return nil, fmt.Errorf("variant %q exists in edition %s, not %s", n, strings.Join(eds, " and "), edition)
		}
		v[n] = true
	}
	return v, nil
}
