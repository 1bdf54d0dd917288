package reports

import "testing"

func TestPlainFailure(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text stays", "the server answered 500", "the server answered 500"},
		{"equal strings", "Content-Type of http://x/files/1\nExpected\n    <string>: application/json\nto equal\n    <string>: application/fhir+ndjson",
			"Content-Type of http://x/files/1 (got \"application/json\"; wanted \"application/fhir+ndjson\")"},
		{"numbers, no annotation", "Expected\n    <int>: 404\nto equal\n    <int>: 202", "Got 404; wanted 202."},
		{"unexpected error", "the full Group export must complete\nUnexpected error:\n    <*fmt.wrapError | 0xc000123>: \n    the full export failed: kick-off answered HTTP 400\n    {\n        msg: \"the full export failed\",\n    }\noccurred",
			"the full Group export must complete (error: the full export failed: kick-off answered HTTP 400)"},
		{"map dump", "the manifest lacks transactionTime\nExpected\n    <map[string]interface {} | len:4>: {\n        \"error\": [],\n    }\nto have key\n    <string>: transactionTime",
			"the manifest lacks transactionTime (no \"transactionTime\" in 4 entries)"},
		{"slice dump", "Expected\n    <[]validators.Issue | len:3, cap:4>: [\n        {Severity: \"error\"},\n    ]\nto be empty", "Found 3 entries; wanted none."},
		{"one-line slice", "Expected\n    <[]string | len:1, cap:1>: [\"Patient/p9\"]\nto be empty", "Found [\"Patient/p9\"]; wanted none."},
		{"Gomega's notes dropped", "resources missing\nExpected\n    <[]string | len:3581, cap:4096>: [\"a\", \"b\", ...]\n\nGomega truncated this representation as it exceeds 'format.MaxLength'.\nConsider having the object provide a custom 'GomegaStringer' representation\nor adjust the parameters in Gomega's 'format' package.\n\nLearn more here: https://onsi.github.io/gomega/#adjusting-output\nto be empty",
			"resources missing (found 3581 entries; wanted none)"},
		{"bool with annotation", "Content-Location \"x\" must be an absolute URL\nExpected\n    <bool>: false\nto be true", "Content-Location \"x\" must be an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlainFailure(tt.in); got != tt.want {
				t.Errorf("PlainFailure:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPlainFailureClipsLongValues(t *testing.T) {
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'a'
	}
	got := PlainFailure("Expected\n    <string>: " + string(long) + "\nto be empty")
	if len([]rune(got)) > maxValue+40 {
		t.Errorf("a 1000-character value gives a %d-character summary", len(got))
	}
}
