package profile

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators"
	"github.com/pdex-conform/pdex-conform/validators/packages"
	"github.com/pdex-conform/pdex-conform/validators/packages/packagestest"
)

// knownInvalid lists the shipped examples that really are invalid, with
// the rule each breaks and why. Each must still fail exactly so: an entry
// that stops failing is itself a test failure, so the list cannot go stale.
var knownInvalid = map[string]struct {
	rule, reason string
}{
	"hl7.fhir.us.core#3.1.1/example/DiagnosticReport-cardiology-report.json": {
		"Attachment.hash", "presentedForm.hash is not valid base64 (the example carries a placeholder)",
	},
	"hl7.fhir.us.core#3.1.1/example/Observation-satO2-fiO2.json": {
		"Observation.component:FlowRate.value[x]", "the flow rate is in L/min, which is not in the required value set ucum-vitals-common 4.0.1 that pulse-oximetry binds it to",
	},
}

// TestShippedExamplesValidate validates every example of the shipped
// packages that claims a profile against the profiles it claims: each
// must have zero errors, except the known invalid ones above.
func TestShippedExamplesValidate(t *testing.T) {
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	checked, claims := 0, 0
	perProfile := map[string]int{}
	seenInvalid := map[string]bool{}
	for _, p := range reg.Packages() {
		err := reg.WalkExamples(p.ID(), func(ex packages.Example) error {
			r := v.Validate(ex.Raw)
			if len(r.Checked) < 2 && len(r.NotRun) == 0 {
				return nil // claims no profile
			}
			claims++
			name := p.ID() + "/" + ex.File
			for _, nr := range r.NotRun {
				t.Errorf("%s: claimed profile %s not checked", name, nr)
			}
			for _, c := range r.Checked[1:] {
				perProfile[c]++
			}
			checked++
			var errs []validators.Issue
			for _, is := range r.Issues {
				if is.Severity == validators.Error {
					errs = append(errs, is)
				}
			}
			if ki, ok := knownInvalid[name]; ok {
				seenInvalid[name] = true
				if len(errs) != 1 || errs[0].Rule != ki.rule {
					t.Errorf("%s: known invalid (%s): want exactly one error on rule %s, got %v", name, ki.reason, ki.rule, errs)
				}
				return nil
			}
			for _, is := range errs {
				t.Errorf("%s: %s", name, is)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name := range knownInvalid {
		if !seenInvalid[name] {
			t.Errorf("known invalid example %s was not found", name)
		}
	}
	if checked < 200 {
		t.Errorf("only %d examples claiming profiles were checked; expected over 200", checked)
	}
	var lines []string
	for p, n := range perProfile {
		lines = append(lines, fmt.Sprintf("%4d %s", n, p))
	}
	sort.Strings(lines)
	t.Logf("%d examples claiming profiles checked, %d known invalid; per profile:\n%s", checked, len(knownInvalid), strings.Join(lines, "\n"))
}

// baseInvalid lists the examples, among all those shipped (claiming a
// profile or not), that break a rule of base FHIR R4 or of a profile, with
// the rules they break. Most are in the R4 examples package, whose
// examples predate some of R4's own rules.
var baseInvalid = map[string]struct {
	rules  []string
	reason string
}{
	"hl7.fhir.r4.examples#4.0.1/Questionnaire-qs1.json":                            {[]string{"Questionnaire.item.linkId"}, "nested items have no linkId"},
	"hl7.fhir.r4.examples#4.0.1/Bundle-v2-valuesets.json":                          {[]string{"ext-1"}, "extensions carrying both a value and nested extensions"},
	"hl7.fhir.r4.examples#4.0.1/Basic-referral.json":                               {[]string{"Basic.modifierExtension"}, "modifier extensions from example.org, which no package defines"},
	"hl7.fhir.r4.examples#4.0.1/Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json":  {[]string{"Bundle.entry.fullUrl"}, "an entry's fullUrl names Patient/pat12, its resource is Patient/pat2"},
	"hl7.fhir.r4.examples#4.0.1/Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json":  {[]string{"Bundle.entry.fullUrl"}, "an entry's fullUrl names Patient/pat12, its resource is Patient/pat2"},
	"hl7.fhir.r4.examples#4.0.1/Bundle-lri-example.json":                           {[]string{"Bundle.entry.fullUrl"}, "fullUrls carry an lri- prefix the resource ids lack"},
	"hl7.fhir.r4.examples#4.0.1/Bundle-dataelements.json":                          {[]string{"bdl-7"}, "two entries share a fullUrl"},
	"hl7.fhir.r4.examples#4.0.1/DeviceMetric-example.json":                         {[]string{"DeviceMetric.parent"}, "parent refers to a DeviceDefinition; R4 allows only Device"},
	"hl7.fhir.r4.examples#4.0.1/DeviceUseStatement-example.json":                   {[]string{"DeviceUseStatement.reasonReference"}, "reasonReference refers to a Procedure, which R4 does not allow"},
	"hl7.fhir.r4.examples#4.0.1/MedicationRequest-medrx0301.json":                  {[]string{"MedicationRequest.dispenseRequest.performer"}, "dispense performer is a Practitioner; R4 allows only Organization"},
	"hl7.fhir.r4.examples#4.0.1/Observation-clinical-gender.json":                  {[]string{"Observation.performer"}, "performer refers to an Encounter"},
	"hl7.fhir.r4.examples#4.0.1/Observation-example-genetics-brcapat.json":         {[]string{"Extension.value[x]"}, "us-core-ethnicity (a complex extension) given a value"},
	"hl7.fhir.r4.examples#4.0.1/ActivityDefinition-blood-tubes-supply.json":        {[]string{"txt-2"}, "empty narrative"},
	"hl7.fhir.r4.examples#4.0.1/ActivityDefinition-heart-valve-replacement.json":   {[]string{"txt-2"}, "empty narrative"},
	"hl7.fhir.r4.examples#4.0.1/EventDefinition-example.json":                      {[]string{"txt-2"}, "empty narrative"},
	"hl7.fhir.r4.examples#4.0.1/Questionnaire-zika-virus-exposure-assessment.json": {[]string{"txt-2"}, "empty narrative"},
	// R4 binds TestScript's accept and contentType to media types (STU3
	// took "xml" and "json" codes); these examples kept the old codes.
	"hl7.fhir.r4.examples#4.0.1/TestScript-testscript-example.json":                   {[]string{"TestScript.setup.action.operation.accept", "TestScript.setup.action.operation.contentType"}, "accept and contentType say 'json', not a media type (R4 binds them to mimetypes, BCP 13)"},
	"hl7.fhir.r4.examples#4.0.1/TestScript-testscript-example-history.json":           {[]string{"TestScript.setup.action.operation.accept", "TestScript.setup.action.operation.contentType"}, "accept and contentType say 'json', not a media type"},
	"hl7.fhir.r4.examples#4.0.1/TestScript-testscript-example-multisystem.json":       {[]string{"TestScript.setup.action.operation.accept", "TestScript.setup.action.operation.contentType", "TestScript.setup.action.assert.contentType"}, "accept and contentType say 'xml', not a media type"},
	"hl7.fhir.r4.examples#4.0.1/TestScript-testscript-example-readtest.json":          {[]string{"TestScript.setup.action.operation.accept", "TestScript.setup.action.assert.contentType"}, "accept and contentType say 'xml', not a media type"},
	"hl7.fhir.r4.examples#4.0.1/TestScript-testscript-example-search.json":            {[]string{"TestScript.setup.action.operation.accept", "TestScript.setup.action.operation.contentType", "TestScript.setup.action.assert.contentType"}, "accept and contentType say 'xml', not a media type"},
	"hl7.fhir.r4.examples#4.0.1/TestScript-testscript-example-update.json":            {[]string{"TestScript.setup.action.operation.accept", "TestScript.setup.action.operation.contentType", "TestScript.setup.action.assert.contentType"}, "accept and contentType say 'xml', not a media type"},
	"hl7.fhir.r4.examples#4.0.1/Bundle-b0a5e4277-83c4-4adb-87e2-e3efe3369b6f.json":    {[]string{"Endpoint.payloadMimeType"}, "payloadMimeType parameters hold unquoted spaces ('application/dicom; variant=DICOM STOW-RS'): a parameter value with a space must be quoted (RFC 2045 §5.1), so these are not media types"},
	"hl7.fhir.us.core#3.1.1/example/Bundle-66c8856b-ba11-4876-8aa8-467aad8c11a2.json": {[]string{"Bundle.entry.fullUrl"}, "an entry's fullUrl names Endpoint-71, its resource is Endpoint/71"},
	"hl7.fhir.us.davinci-hrex#1.0.0/example/Bundle-task-poll-response.json":           {[]string{"Bundle.entry.fullUrl"}, "an entry's fullUrl and its DocumentReference id differ"},
}

// TestAllShippedExamples validates every example of every shipped package
// (over a thousand resources) against its type's base definition and the
// profiles it claims: only the known invalid ones may have errors, and only
// on the rules listed for them.
func TestAllShippedExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("validates every shipped example")
	}
	reg := packagestest.Registry(t)
	v := New(reg, Options{})
	n := 0
	seen := map[string]bool{}
	for _, p := range reg.Packages() {
		err := reg.WalkExamples(p.ID(), func(ex packages.Example) error {
			n++
			name := p.ID() + "/" + ex.File
			r := v.Validate(ex.Raw)
			allowed := map[string]bool{}
			if ki, ok := knownInvalid[name]; ok {
				allowed[ki.rule] = true
			}
			if bi, ok := baseInvalid[name]; ok {
				seen[name] = true
				for _, rule := range bi.rules {
					allowed[rule] = true
				}
			}
			broke := map[string]bool{}
			for _, is := range r.Issues {
				if is.Severity != validators.Error {
					continue
				}
				broke[is.Rule] = true
				if !allowed[is.Rule] {
					t.Errorf("%s: %s", name, is)
				}
			}
			if bi, ok := baseInvalid[name]; ok {
				for _, rule := range bi.rules {
					if !broke[rule] {
						t.Errorf("%s: listed as breaking %s (%s), but it does not", name, rule, bi.reason)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name := range baseInvalid {
		if !seen[name] {
			t.Errorf("known invalid example %s was not found", name)
		}
	}
	t.Logf("%d examples validated, %d known invalid", n, len(baseInvalid)+len(knownInvalid))
}
