// Package reference is the reference Provider Access server: a payer's FHIR
// endpoint for editions 2.0.0, 2.1.0 and 2.2.0 of the PDex IG (edition.go)
// over an embedded SQLite store, implementing Group read and search, the
// asynchronous Group/$davinci-data-export operation, and from 2.1.0
// pdex-provider-consent writes and (2.2.0) $provider-member-match, with SMART
// Backend Services authorization, optionally over TLS or mutual TLS
// (Options.TLS, LoadTLSConfig). Fault switches (Faults) break one behaviour
// at a time so that the conformance suites can be proven able to fail;
// variants (Variants) show the readings a conformant server may take.
//
// # Choices where the specification is silent
//
//   - _since and _until both include their bounds, compared with
//     meta.lastUpdated.
//   - Organizations and Practitioners are exported when any stored resource
//     of an exported member references them, subject to _type and
//     _since/_until themselves.
//   - A _typeFilter applies to its own type only: types with no filter are
//     exported unfiltered, and several queries for one type are
//     alternatives. Filters for types outside _type are accepted and have
//     no effect. Token values take code, system|code, |code and system|.
//   - Under Prefer: handling=lenient, unsupported parameters and unknown
//     _type or _typeFilter entries are reported as OperationOutcomes in an
//     error file; if every _type entry was ignored, nothing is exported
//     (not everything).
//   - In a Parameters body each parameter must use the value[x] type of
//     the OperationDefinition (patient: valueReference; _since/_until:
//     valueInstant, valueDateTime or valueString; ...); a mismatch is 400.
//   - Reads (GET /{type}/{id}) follow the export's rules: Consents are never
//     served; a patient's data is served only to a client entitled to a
//     Group that has the patient as a member, and never for an opted-out
//     member (404, so that existence is not revealed); claim EOBs are
//     served in their non-financial form.
//   - A job, its status URL and its files belong to the client that
//     started it; anyone else gets 404. After FileTTL (Expires) they answer
//     404 and the sweep deletes them; cancelled jobs are deleted likewise.
//   - The last download is recorded only for members who were eligible for
//     the export (never for an opted-out member), at the job's
//     transactionTime, which is when a worker starts the job.
//   - A job cut off by a stop or a crash starts again from the beginning on
//     the next start, with a new transactionTime; a job that fails answers
//     500 with an OperationOutcome.
//   - From 2.1.0, an attribution Group is stored as the payer keeps it and
//     shown as the edition says (groups.go): opted-out members left out and
//     counted, pdex-provider-group's code and characteristic; 2.1.0's
//     Group.member tracking is stored in the Group and recorded on download
//     and delta exports (not snapshots, nor exports without exportType), at
//     the job's transactionTime or _until when earlier; lastResources and
//     lastFilters hold _type and _typeFilter as sent, and are removed by an
//     export that sends none.
//   - A member's latest active pdex-provider-consent decides its sharing
//     (consent.go); Consents loaded with the data and written through the
//     API count alike, and they are read when a job runs, a Group is shown
//     or a match is made.
//   - $provider-member-match (2.2.0): see membermatch.go for how members are
//     matched and attestations verified.
package reference
