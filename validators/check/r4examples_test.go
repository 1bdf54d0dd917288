package check_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/check"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
	"github.com/pdex-conform/pdex-conform/validators/r4"
)

// r4Invalid lists the examples the R4 specification publishes that break a
// rule of R4 itself, with the rules (issue rules: the structure rule, an
// invariant key, an element id) and why. Each must still break exactly
// those rules: a listed example that passes fails the test.
var r4Invalid = map[string]struct {
	rules  []string
	reason string
}{
	"ActivityDefinition-blood-tubes-supply.json":        {[]string{"txt-2"}, "the narrative div holds only whitespace; txt-2: the narrative SHALL have some non-whitespace content"},
	"ActivityDefinition-heart-valve-replacement.json":   {[]string{"txt-2"}, "the narrative div holds only whitespace (txt-2)"},
	"EventDefinition-example.json":                      {[]string{"txt-2"}, "the narrative div holds only whitespace (txt-2)"},
	"Questionnaire-zika-virus-exposure-assessment.json": {[]string{"txt-2"}, "the narrative div holds an empty <pre> (txt-2)"},
	"Basic-referral.json":                               {[]string{"Basic.modifierExtension"}, "a modifier extension under example.org/do-not-use, defined nowhere: a modifier extension that is not known cannot be ignored (extensibility.html)"},
	"Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json":  {[]string{"Bundle.entry.fullUrl"}, "an entry's fullUrl names Patient/pat12, its resource is Patient/pat2: fullUrl SHALL NOT disagree with the resource's id (Bundle.entry.fullUrl)"},
	"Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json":  {[]string{"Bundle.entry.fullUrl"}, "the same entry as the previous Bundle (Patient/pat12 against Patient/pat2)"},
	"Bundle-lri-example.json":                           {[]string{"Bundle.entry.fullUrl"}, "fullUrls carry an lri- prefix the resource ids lack"},
	"Bundle-dataelements.json":                          {[]string{"bdl-7"}, "two entries share a fullUrl without distinct versionIds (bdl-7)"},
	"DeviceMetric-example.json":                         {[]string{structureRule}, "DeviceMetric.parent refers to a DeviceDefinition; R4 allows Reference(Device)"},
	"DeviceUseStatement-example.json":                   {[]string{structureRule}, "DeviceUseStatement.reasonReference refers to a Procedure, not among R4's targets"},
	"MedicationRequest-medrx0301.json":                  {[]string{structureRule}, "MedicationRequest.dispenseRequest.performer refers to a Practitioner; R4 allows Reference(Organization)"},
	"Observation-clinical-gender.json":                  {[]string{structureRule}, "Observation.performer refers to an Encounter"},
	"Questionnaire-qs1.json":                            {[]string{structureRule}, "nested items have no linkId (Questionnaire.item.linkId is 1..1)"},
	"TestScript-testscript-example.json":                {[]string{structureRule}, "operation.accept and contentType say 'json', not a media type: R4 binds them (required) to mimetypes (BCP 13); STU3 had codes xml and json"},
	"TestScript-testscript-example-history.json":        {[]string{structureRule}, "accept and contentType say 'json' (mimetypes, required)"},
	"TestScript-testscript-example-multisystem.json":    {[]string{structureRule}, "accept and contentType say 'xml' (mimetypes, required)"},
	"TestScript-testscript-example-readtest.json":       {[]string{structureRule}, "accept and contentType say 'xml' (mimetypes, required)"},
	"TestScript-testscript-example-search.json":         {[]string{structureRule}, "accept and contentType say 'xml' (mimetypes, required)"},
	"TestScript-testscript-example-update.json":         {[]string{structureRule}, "accept and contentType say 'xml' (mimetypes, required)"},
	"Bundle-b0a5e4277-83c4-4adb-87e2-e3efe3369b6f.json": {[]string{structureRule}, "Endpoint.payloadMimeType parameters hold unquoted spaces ('application/dicom; variant=DICOM STOW-RS'): not media types (RFC 2045 §5.1), and R4 binds payloadMimeType (required) to mimetypes"},
	"Observation-example-genetics-brcapat.json":         {[]string{"Extension.value[x]"}, "it uses US Core's us-core-ethnicity, a complex extension (value[x] 0..0), with a valueCodeableConcept; the US Core package defines it, so it is checked"},
}

const structureRule = r4.Rule

// TestR4Examples validates every example of the R4 specification
// (hl7.fhir.r4.examples) against the base definitions alone, as
// `validate --structure-only` does: the element definitions (structure,
// types, formats, cardinality, required bindings, reference targets) and
// their invariants. Every example the specification publishes must be
// clean, except those listed above.
func TestR4Examples(t *testing.T) {
	reg := packagestest.Registry(t)
	c := check.New(reg, check.Options{StructureOnly: true, NoFinancialRule: true})
	n, clean := 0, 0
	seen := map[string]bool{}
	err := reg.WalkExamples("hl7.fhir.r4.examples", func(ex packages.Example) error {
		n++
		broke := map[string]bool{}
		for _, is := range c.Check(ex.Raw) {
			if is.Severity == validators.Error {
				broke[is.Rule] = true
				if known, ok := r4Invalid[ex.File]; !ok || !slices.Contains(known.rules, is.Rule) {
					t.Errorf("%s: %s", ex.File, is)
				}
			}
		}
		if known, ok := r4Invalid[ex.File]; ok {
			seen[ex.File] = true
			for _, r := range known.rules {
				if !broke[r] {
					t.Errorf("%s: listed as breaking %s (%s), but it does not", ex.File, r, known.reason)
				}
			}
		} else if len(broke) == 0 {
			clean++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name := range r4Invalid {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("listed examples not found: %s", strings.Join(missing, ", "))
	}
	if n < 700 {
		t.Errorf("only %d R4 examples; the package has over 700", n)
	}
	t.Logf("%d R4 examples validated against the base definitions: %d clean, %d listed as invalid", n, clean, len(r4Invalid))
}
