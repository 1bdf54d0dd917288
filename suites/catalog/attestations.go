package catalog

import "slices"

// Attestations are requirements no test can check over the wire: what a
// payer does off the API (telling members, running the opt-out process,
// contracting with providers, keeping what download mode stores). The
// payer states each in the run configuration (attestations:); the report
// shows them as attested or not, beside the verdict, which they do not
// change: the verdict is what the run checked.
var attestations = []Requirement{
	{ID: "PA-ATT-01", Level: SHALL, Area: "Attestation", Source: cms + " (patient resources); " + pdexPA,
		Text: "Patient education: the payer tells its members, in plain language, what the Provider Access API shares with their providers and how they can opt out."},
	{ID: "PA-ATT-02", Level: SHALL, Area: "Attestation", Source: cms + " (opt-out); " + pdexPA,
		Text: "Opt-out process: members can opt out of sharing with providers (and opt back in) through a process the payer runs and documents, and a member's choice takes effect on the API before the next export."},
	{ID: "PA-ATT-03", Level: SHALL, Area: "Attestation", Source: cms + " (attribution); " + pdexPA + "; " + atr,
		Text: "Contracts: data is shared only with providers the payer has a contract with and who have a treatment relationship with the member, as the attribution Groups record it."},
	{ID: "PA-ATT-04", Level: SHALL, Area: "Attestation", Source: pdexPA + " (Export Mode: download)",
		Text: "Data stored in download mode: the payer keeps the record of what each provider downloaded to store in the patient record (exportMode download), and tells providers that download is for data they store and snapshot for viewing."},
}

// Attestations lists the requirements a payer attests to, in order.
func Attestations() []Requirement { return slices.Clone(attestations) }
