package profile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
	"github.com/pdex-conform/pdex-conform/validators/pdex"
	"github.com/pdex-conform/pdex-conform/validators/profile"
	"github.com/pdex-conform/pdex-conform/validators/r4"
	"github.com/pdex-conform/pdex-conform/validators/stream"
)

// minClean is the number of shipped IG examples claiming a profile that
// validate clean under their edition's rules. It may only go up: a change
// that makes an official example fail is a regression (or an exception to
// list below, with its reason).
const minClean = 198

// exception is a shipped example that does not validate clean, the rules it
// breaks (the Rule of each error), and why a reviewer would accept that.
type exception struct {
	rules  []string
	reason string
}

// editionExceptions are the official examples that `validate --edition`
// rejects, each for a reason that is the example's. An entry that stops failing, or fails on another
// rule, fails the test, so the list cannot go stale.
var editionExceptions = map[string]exception{
	"hl7.fhir.us.core#3.1.1/example/DiagnosticReport-cardiology-report.json": {
		rules: []string{r4.Rule, profile.RuleAcceptable},
		reason: "presentedForm.hash is \"EQH/..AgME\": '.' is outside the alphabet of base64Binary's (\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+ and 10 characters are not groups of four, " +
			"so it breaks R4 itself (a structural error) and meets no US Core DiagnosticReport profile",
	},
	"hl7.fhir.us.core#3.1.1/example/Observation-satO2-fiO2.json": {
		rules:  []string{"Observation.component:FlowRate.value[x]", profile.RuleAcceptable},
		reason: "the flow rate is in L/min, which is not in ucum-vitals-common, the required value set pulse-oximetry binds it to; so it meets no vital-signs profile",
	},
	"hl7.fhir.us.core#3.1.1/example/Encounter-1036.json": {
		rules:  []string{"Encounter.type", profile.RuleAcceptable},
		reason: "claims no profile and has no type: it is not a US Core Encounter (type 1..*), the only profile PDex 2.0.0 accepts for an Encounter",
	},
	"hl7.fhir.us.davinci-pdex#2.0.0/example/Bundle-2000002.json": {
		rules:  []string{"Patient.identifier", "Patient.name", "Patient.gender", profile.RuleAcceptable},
		reason: "a search result whose included Patient carries an id and nothing else: US Core and C4BB, the Patient profiles PDex accepts, both require identifier, name and gender",
	},
	"hl7.fhir.us.davinci-pdex#2.0.0/example/Bundle-example-mtls-endpoint-bundle.json": {
		rules:  []string{"Organization.name", "Organization.active", profile.RuleAcceptable},
		reason: "an mTLS endpoint discovery Bundle (Payer-to-Payer): its Organizations carry identifiers and endpoints only, so meet neither US Core (name 1..1, active 1..1) nor C4BB Organization; not Provider Access data",
	},
}

// financialRules are what a CARIN financial EOB breaks under Provider
// Access: the financial rule, and for the same amounts, the NonFinancial
// profile PDex 2.0.0 accepts for claims (max 0 on each amount, and its
// meta.profile invariant, since the example claims the financial profile).
func financialRule(rule string) bool {
	return rule == pdex.RuleFinancial || rule == profile.RuleAcceptable ||
		strings.HasSuffix(rule, "nonfinancial-meta-profile-version") ||
		strings.HasPrefix(rule, "ExplanationOfBenefit.") && (strings.HasSuffix(rule, ".amount") || strings.HasSuffix(rule, ".total") ||
			strings.HasSuffix(rule, ".net") || strings.HasSuffix(rule, ".unitPrice") || strings.HasSuffix(rule, ".financial"))
}

// exampleEdition is the PDex edition whose rules apply to a package's
// examples: PDex 2.1.0's own under 2.1.0, the others under 2.0.0.
func exampleEdition(pkg string) string {
	if strings.HasPrefix(pkg, "hl7.fhir.us.davinci-pdex.r4#2.1.") {
		return "2.1.0"
	}
	return "2.0.0"
}

// TestOfficialExamplesUnderEditions is the validator's regression suite:
// every example of the shipped IG packages (US Core, CARIN, HRex, PDex
// 2.0.0 and 2.1.0), validated as `validate --edition` does (structure, the
// profiles claimed, one acceptable profile of the edition, the Provider
// Access rules; Bundles entry by entry), has no error, except CARIN's
// financial EOBs, which the financial rule rejects with its message, and
// the listed exceptions.
func TestOfficialExamplesUnderEditions(t *testing.T) {
	reg := packagestest.Registry(t)
	var sum validators.Summary
	checkers := map[string]*check.Checker{}
	for _, e := range pdex.Editions() {
		checkers[e] = check.New(reg, check.Options{Edition: e, Summary: &sum})
	}
	var claiming, clean, financial int
	seen := map[string]bool{}
	for _, p := range reg.Packages() {
		if p.Name == "hl7.fhir.r4.examples" {
			continue // the R4 examples are not IG data; TestAllShippedExamples covers them
		}
		dir := t.TempDir()
		files := map[string]string{} // temp file -> example name
		claims := map[string]bool{}
		isFinancial := map[string]bool{}
		err := reg.WalkExamples(p.ID(), func(ex packages.Example) error {
			f := filepath.Join(dir, strings.ReplaceAll(ex.File, "/", "__"))
			files[f] = p.ID() + "/" + ex.File
			claims[f], isFinancial[f] = claimsOf(ex.Raw)
			return os.WriteFile(f, ex.Raw, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
		chk := checkers[exampleEdition(p.ID())]
		errs := map[string][]validators.Issue{}
		_, err = stream.Run(context.Background(), []string{dir}, chk.Check, func(it stream.Item) error {
			for _, is := range it.Issues {
				if is.Severity == validators.Error {
					errs[it.File] = append(errs[it.File], is)
				}
			}
			return nil
		}, stream.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for f, name := range files {
			if !claims[f] {
				// Examples claiming no profile are not counted, but
				// must be clean too (validate prints zero errors
				// outside the list).
				checkExample(t, name, errs[f], false, seen)
				continue
			}
			claiming++
			if isFinancial[f] {
				financial++
				checkExample(t, name, errs[f], true, seen)
				continue
			}
			if len(errs[f]) == 0 {
				clean++
			}
			checkExample(t, name, errs[f], false, seen)
		}
	}
	for name := range editionExceptions {
		if !seen[name] {
			t.Errorf("listed exception %s was not found among the examples", name)
		}
	}
	t.Logf("%d of %d shipped IG examples claiming a profile validate clean under their edition; %d are CARIN financial EOBs rejected by %s; %d exceptions",
		clean, claiming, financial, pdex.RuleFinancial, len(editionExceptions))
	t.Logf("checks not made offline over all examples: %d\n%s", sum.Total(), sum.String())
	if clean < minClean {
		t.Errorf("only %d examples claiming a profile validate clean; at least %d did before", clean, minClean)
	}
}

// checkExample checks one example's errors against what is expected of it.
func checkExample(t *testing.T, name string, errs []validators.Issue, financial bool, seen map[string]bool) {
	t.Helper()
	if financial {
		hasRule := false
		for _, is := range errs {
			hasRule = hasRule || is.Rule == pdex.RuleFinancial && strings.Contains(is.Message, "must not carry remittance or cost-sharing")
			if !financialRule(is.Rule) {
				t.Errorf("%s (CARIN financial EOB): an error outside the financial rule: %s", name, is)
			}
		}
		if !hasRule {
			t.Errorf("%s: a CARIN financial EOB must be rejected by %s", name, pdex.RuleFinancial)
		}
		return
	}
	ex, listed := editionExceptions[name]
	if !listed {
		for _, is := range errs {
			t.Errorf("%s: %s", name, is)
		}
		return
	}
	seen[name] = true
	broke := map[string]bool{}
	for _, is := range errs {
		broke[is.Rule] = true
		if !slices.Contains(ex.rules, is.Rule) {
			t.Errorf("%s: listed for %v (%s), but also breaks: %s", name, ex.rules, ex.reason, is)
		}
	}
	for _, r := range ex.rules {
		if !broke[r] {
			t.Errorf("%s: listed as breaking %s (%s), but it does not", name, r, ex.reason)
		}
	}
	if len(errs) == 0 {
		t.Errorf("%s: listed as an exception (%s), but it validates clean: take it off the list", name, ex.reason)
	}
}

// claimsOf reports whether an example (or an entry of it) claims a profile,
// and whether it is a CARIN financial claim EOB: one claiming a C4BB EOB
// profile other than a NonFinancial one.
func claimsOf(raw []byte) (claims, financial bool) {
	var res struct {
		ResourceType string `json:"resourceType"`
		Use          string `json:"use"`
		Meta         struct {
			Profile []string `json:"profile"`
		} `json:"meta"`
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &res) != nil {
		return false, false
	}
	for _, p := range res.Meta.Profile {
		claims = true
		if strings.Contains(p, "/C4BB-ExplanationOfBenefit-") && !strings.Contains(p, "-NonFinancial") && res.Use != pdex.UsePreauthorization {
			financial = true
		}
	}
	for _, e := range res.Entry {
		c, f := claimsOf(e.Resource)
		claims, financial = claims || c, financial || f
	}
	return claims, financial
}

// TestEditionProfilesNotOffline: under PDex 2.1.0 a claim EOB is held to
// CARIN's Basis profile, which no package here holds: the EOB is neither
// passed against it nor failed for it, and the check not made is named
// once, for the summary. The financial rule still applies.
func TestEditionProfilesNotOffline(t *testing.T) {
	reg := packagestest.Registry(t)
	var raw, financialRaw []byte
	reg.WalkExamples("hl7.fhir.us.carin-bb", func(ex packages.Example) error {
		switch filepath.Base(ex.File) {
		case "ExplanationOfBenefit-EOBPharmacyNonFinancial1.json":
			raw = ex.Raw
		case "ExplanationOfBenefit-EOBPharmacy1.json":
			financialRaw = ex.Raw
		}
		return nil
	})
	if raw == nil || financialRaw == nil {
		t.Fatal("CARIN pharmacy examples not found")
	}
	const basis = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-Pharmacy-Basis|2.1.0"
	var sum validators.Summary
	chk := check.New(reg, check.Options{Edition: "2.1.0", Summary: &sum})
	issues := chk.Check(raw)
	for _, is := range issues {
		if is.Severity == validators.Error {
			t.Errorf("a claim EOB must not fail for a profile not available offline: %s", is)
		}
	}
	nc := sum.NotChecked()
	if len(nc) == 0 || !slices.ContainsFunc(nc, func(c validators.NotCheckedCount) bool {
		return c.What == basis && c.Count == 1 && strings.Contains(c.Message, "not available offline")
	}) {
		t.Errorf("the Basis profile must be reported once as not available offline; summary: %+v", nc)
	}
	// the financial rule does not rely on a profile
	fin := chk.Check(financialRaw)
	n := 0
	for _, is := range fin {
		if is.Severity == validators.Error {
			if is.Rule != pdex.RuleFinancial {
				t.Errorf("under 2.1.0 the financial EOB fails only the financial rule, got %s", is)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("under 2.1.0 a financial claim EOB must still be rejected by the financial rule")
	}
}
