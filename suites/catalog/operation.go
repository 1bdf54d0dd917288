package catalog

// A run can drive a plain FHIR Bulk Data server, through
// Group/[id]/$export, for a gap analysis: what it would lack to be a PDex
// Provider Access server. The requirements below exist only for
// $davinci-data-export, so they cannot apply to $export: they are reported
// as not applicable, and a gap analysis never certifies. Everything else
// (authorization, the Group, the Bulk Data flow, what the data holds) is
// checked as for PDex.
var pdexOnly = map[string]string{
	"PA-CAP-02":   "the CapabilityStatement declares $davinci-data-export",
	"PA-ETYPE-01": "exportType is a parameter of $davinci-data-export",
	"PA-ETYPE-02": "exportType is a parameter of $davinci-data-export",
	"PA-MODE-01":  "exportMode is a parameter of $davinci-data-export",
	"PA-MODE-02":  "exportMode is a parameter of $davinci-data-export",
	"PA-MODE-03":  "exportMode is a parameter of $davinci-data-export",
	// _until is the ATR operation's; Bulk Data 2.0.0 has no _until.
	"PA-SINCE-02": "_until is a parameter of $davinci-data-export (ATR), not of Bulk Data 2.0.0 $export",
	// Bulk Data lets a server accept a kick-off without Prefer (SPEC §3,
	// "server MAY reject"); refusing it is PDex's §pdex-339.
	"PA-BULK-02": "refusing a kick-off without Prefer: respond-async is PDex's rule (§pdex-339); Bulk Data leaves it to the server",
	"PA-API-01":  "the OpenAPI description is of the PDex Provider Access API and its $davinci-data-export operation",
}

// PDexOnly reports whether a requirement exists only for the PDex
// operation, and why; such a requirement does not apply to a plain Bulk
// Data $export.
func PDexOnly(id string) (string, bool) {
	why, ok := pdexOnly[id]
	return why, ok
}
