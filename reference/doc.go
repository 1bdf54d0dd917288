// Package reference is the reference Provider Access server: a payer's FHIR
// endpoint for edition 2.0.0 of the PDex IG over an embedded SQLite store,
// implementing Group read and search and the asynchronous
// Group/$davinci-data-export operation with SMART Backend Services
// authorization, optionally over TLS or mutual TLS (Options.TLS,
// LoadTLSConfig). Fault switches (Faults) break one behaviour at a time so
// that the conformance suites can be proven able to fail.
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
package reference
