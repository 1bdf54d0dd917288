package reference

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Files are written in chunks of about chunkSize bytes, and split into
// several files past maxLinesPerFile lines, so that neither the server nor a
// client ever holds a whole large file.
const (
	chunkSize       = 1 << 20
	maxLinesPerFile = 50000
	sweepInterval   = 2 * time.Second
)

func (s *Server) startWorkers(ctx context.Context) error {
	// A job that was running when the server stopped starts again from the
	// beginning: its chunks are deleted and it is queued.
	interrupted, err := s.store.ids(ctx, `SELECT id FROM jobs WHERE state = ?`, stateRunning)
	if err != nil {
		return fmt.Errorf("finding interrupted jobs: %w", err)
	}
	for _, id := range interrupted {
		if err := s.deleteFiles(ctx, id); err != nil {
			return err
		}
		if _, err := s.store.db.ExecContext(ctx, `UPDATE jobs SET state = ?, progress = 'resumed after restart' WHERE id = ?`, stateQueued, id); err != nil {
			return fmt.Errorf("requeueing job %s: %w", id, err)
		}
		s.log.Info("resuming export job interrupted by a restart", "job", id)
	}
	for i := 0; i < s.opts.Workers; i++ {
		s.wg.Add(1)
		go s.work(ctx)
	}
	s.wg.Add(1)
	go s.sweep(ctx)
	return nil
}

// sweep queues jobs the channel could not take and removes expired ones.
func (s *Server) sweep(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		s.queueWaiting(ctx)
		s.expire(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) queueWaiting(ctx context.Context) {
	ids, err := s.store.ids(ctx, `SELECT id FROM jobs WHERE state = ? ORDER BY created`, stateQueued)
	if err != nil {
		return
	}
	for _, id := range ids {
		select {
		case s.queue <- id:
		default:
			return
		}
	}
}

func (s *Server) expire(ctx context.Context) {
	cutoff := millis(s.now().Add(-s.opts.FileTTL))
	ids, err := s.store.ids(ctx, `SELECT id FROM jobs WHERE state IN (?, ?, ?) AND finished > 0 AND finished < ?`, stateComplete, stateFailed, stateCancelled, cutoff)
	if err != nil {
		return
	}
	for _, id := range ids {
		if s.deleteFiles(ctx, id) == nil {
			s.store.db.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, id)
		}
	}
}

func (s *Server) work(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-s.queue:
			s.runJob(ctx, id)
		}
	}
}

// runJob claims a queued job and runs it to completion, failure or
// cancellation.
func (s *Server) runJob(ctx context.Context, id string) {
	tt := s.now().UTC()
	res, err := s.store.db.ExecContext(ctx, `UPDATE jobs SET state = ?, transaction_time = ?, progress = 'starting' WHERE id = ? AND state = ?`,
		stateRunning, millis(tt), id, stateQueued)
	if err != nil {
		s.log.Error("claiming job", "job", id, "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return // another worker has it, or it was cancelled
	}
	jctx, cancel := context.WithCancel(ctx)
	s.running.Store(id, cancel)
	defer func() {
		s.running.Delete(id)
		cancel()
	}()
	if s.opts.beforeExport != nil {
		err = s.opts.beforeExport(jctx, id)
	}
	var j *job
	if err == nil {
		j, err = s.job(jctx, id)
	}
	if err == nil {
		err = s.export(jctx, j)
	}
	switch {
	case err == nil:
		return
	case ctx.Err() != nil:
		// The server is stopping: leave the job "running" so that the next
		// start resumes it.
		return
	case jctx.Err() != nil || errors.Is(err, errJobCancelled):
		// Cancelled by DELETE: cancelJob already marked it; remove what the
		// export wrote after cancelJob deleted the files.
		s.deleteFiles(ctx, id)
		return
	}
	s.log.Error("export job failed", "job", id, "err", err)
	oo, _ := json.Marshal(outcome("error", "exception", "the export failed: "+err.Error()))
	s.deleteFiles(ctx, id)
	s.store.db.ExecContext(ctx, `UPDATE jobs SET state = ?, outcome = ?, finished = ? WHERE id = ? AND state = ?`,
		stateFailed, oo, millis(s.now()), id, stateRunning)
}

// export writes a job's files and completes it.
func (s *Server) export(ctx context.Context, j *job) error {
	p := j.params
	members, err := s.groupMembers(ctx, j.group)
	if errors.Is(err, errNotFound) && s.faults.has(FaultAcceptUnknownGroup) {
		members, err = nil, nil // the fault's unknown Group has nobody
	}
	if err != nil {
		return err
	}
	// full is a Group export of every member (no patient parameter).
	full := len(p.Patients) == 0
	var errLines [][]byte
	selected := members
	nonMemberNamed := false
	if !full && !s.faults.has(FaultIgnorePatient) {
		// Sets, not scans: a kick-off may name thousands of members of a
		// Group of tens of thousands.
		member := make(map[string]bool, len(members))
		for _, m := range members {
			member[m] = true
		}
		seen := make(map[string]bool, len(p.Patients))
		selected = nil
		for _, pid := range p.Patients {
			switch {
			case member[pid]:
				if !seen[pid] {
					seen[pid] = true
					selected = append(selected, pid)
				}
			case s.faults.has(FaultNoErrorForNonMember):
				nonMemberNamed = true
			case s.faults.has(FaultVagueNonMemberError):
				nonMemberNamed = true
				errLines = append(errLines, outcomeLine("not-found", "a patient reference named no member of the Group and was ignored"))
			default:
				nonMemberNamed = true
				errLines = append(errLines, outcomeLine("not-found",
					fmt.Sprintf("Patient/%s is not a member of Group/%s and was ignored", pid, j.group)))
			}
		}
	}
	for _, bad := range p.BadPatients {
		errLines = append(errLines, outcomeLine("invalid", fmt.Sprintf("patient %q is not a Patient reference and was ignored", bad)))
	}
	for _, ig := range p.Ignored {
		errLines = append(errLines, outcomeLine("not-supported", ig))
	}
	// Consent is read now, when the job runs, not when it was requested.
	optedOut, err := s.optedOut(ctx)
	if err != nil {
		return err
	}
	// eligible are the selected members who may be exported; patients are
	// those actually exported, which differ only under a fault. The last
	// download is recorded for eligible members only, so that a fault that
	// leaks data changes nothing else.
	var eligible, patients []string
	optedNamed := false
	for _, pid := range selected {
		if optedOut[pid] {
			optedNamed = true
			if s.faults.has(FaultLeakOptedOut) || !full && s.faults.has(FaultLeakOptedOutNamed) {
				patients = append(patients, pid)
			}
			continue
		}
		eligible = append(eligible, pid)
		patients = append(patients, pid)
	}
	if full && s.faults.has(FaultPartialMembers) {
		// A paging bug: the first page of members only.
		eligible = eligible[:(len(eligible)+1)/2]
		patients = slices.DeleteFunc(patients, func(pid string) bool { return !slices.Contains(eligible, pid) })
	}
	if s.faults.has(FaultIncludeNonMember) {
		if nm, err := s.nonMember(ctx, members); err == nil && nm != "" {
			patients = append(patients, nm)
		}
	}
	if !full && (optedNamed && s.faults.has(FaultOptedOutEmptiesExport) || nonMemberNamed && s.faults.has(FaultNonMemberEmptiesExport)) {
		patients = nil
	}
	// byType holds the patients whose data of a type differs from
	// patients' under a fault.
	byType := map[string][]string{}
	if full && s.faults.has(FaultPartialMemberData) {
		var kept []string
		for i, pid := range patients {
			if i%2 == 0 || !slices.Contains(eligible, pid) {
				kept = append(kept, pid)
			}
		}
		byType["Condition"] = kept
	}
	if !full && s.faults.has(FaultMisattributeImmunization) {
		// Each named member gets the next member's Immunizations.
		var shifted []string
		for _, pid := range eligible {
			i := slices.Index(members, pid)
			shifted = append(shifted, members[(i+1)%len(members)])
		}
		byType["Immunization"] = shifted
	}
	// fresh are members who joined the Group after _since: with the
	// since-new-members variant, all their data goes out.
	var fresh []string
	if p.Since != nil && s.variants.has(VariantSinceNewMembers) {
		starts, err := s.memberStarts(ctx, j.group)
		if err != nil {
			return err
		}
		for _, pid := range patients {
			if st, ok := starts[pid]; ok && st.After(*p.Since) {
				fresh = append(fresh, pid)
			}
		}
	}
	types := exportableTypes
	if (len(p.Types) > 0 || p.TypeAsked) && !s.faults.has(FaultIgnoreType) {
		types = p.Types
	}
	if p.Kind == "download" && s.faults.has(FaultDownloadDiffers) {
		types = slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == "Observation" })
	}
	filters := map[string][]*typeFilter{}
	if !s.faults.has(FaultIgnoreTypeFilter) {
		for _, q := range p.TypeFilters {
			f, err := parseTypeFilter(q)
			if err != nil {
				return err // validated at kick-off; cannot happen
			}
			filters[f.Type] = append(filters[f.Type], f)
		}
	}
	if s.faults.has(FaultTypeFilterAllTypes) && len(p.TypeFilters) > 0 {
		var all []*typeFilter
		for _, fs := range filters {
			all = append(all, fs...)
		}
		for _, t := range types {
			filters[t] = all
		}
	}
	if err := s.deltaCutoff(ctx, j, eligible); err != nil {
		return err
	}
	fw := &fileWriter{s: s, ctx: ctx, job: j.id, maxLines: maxLinesPerFile}
	if s.variants.has(VariantSeveralFiles) {
		fw.maxLines = 7
	}
	fj, err := json.Marshal(fresh)
	if err != nil {
		return err
	}
	for i, typ := range types {
		s.store.db.ExecContext(ctx, `UPDATE jobs SET progress = ? WHERE id = ?`,
			fmt.Sprintf("exporting %s (%d of %d types)", typ, i+1, len(types)), j.id)
		of := patients
		if alt, ok := byType[typ]; ok {
			of = alt
		}
		pj, err := json.Marshal(of)
		if err != nil {
			return err
		}
		if err := s.exportType(ctx, fw, j, typ, string(pj), string(fj), filters[typ]); err != nil {
			return fmt.Errorf("exporting %s: %w", typ, err)
		}
	}
	if len(errLines) > 0 {
		if err := fw.start("error", "OperationOutcome"); err != nil {
			return err
		}
		for _, l := range errLines {
			if err := fw.line(l); err != nil {
				return err
			}
		}
	}
	if err := fw.finish(); err != nil {
		return err
	}
	if s.variants.has(VariantSlowJobs) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(1500 * time.Millisecond):
		}
	}
	tracked := eligible
	if s.faults.has(FaultTrackAllMembers) {
		tracked = slices.DeleteFunc(slices.Clone(members), func(pid string) bool { return optedOut[pid] })
	}
	return s.complete(ctx, j, fw.files, tracked)
}

// deltaCutoff gives a 2.1.0 provider-delta without _since a cut-off: "new,
// or updated data" since what the provider last received, read from the
// members' lastTransmitted (EDITIONS.md §1, FHIR-51571: inferred). The
// earliest of the selected members' times is used, so that nothing new to
// any of them is left out; when one of them was never transmitted,
// everything is new. 2.2.0 refuses such a kick-off instead (§pdex-363).
func (s *Server) deltaCutoff(ctx context.Context, j *job, members []string) error {
	if j.params.Kind != "delta" || j.params.Since != nil || !s.edition.TrackOnGroup || len(members) == 0 {
		return nil
	}
	raw, err := s.store.read(ctx, "Group", j.group)
	if err != nil {
		return err
	}
	last, err := lastTransmitted(raw)
	if err != nil {
		return fmt.Errorf("stored Group/%s: %w", j.group, err)
	}
	var cut time.Time
	for _, m := range members {
		t, ok := last[m]
		if !ok {
			return nil
		}
		if cut.IsZero() || t.Before(cut) {
			cut = t
		}
	}
	j.params.Since = &cut
	return nil
}

// exportType writes the resources of one type for the job's patients
// (patientsJSON) within the job's window, and for the patients in freshJSON
// up to _until whatever their age (see VariantSinceNewMembers).
func (s *Server) exportType(ctx context.Context, fw *fileWriter, j *job, typ, patientsJSON, freshJSON string, filters []*typeFilter) error {
	p := j.params
	since, until := int64(-1<<62), int64(1<<62)
	if p.Since != nil && !s.faults.has(FaultIgnoreSince) && !(typ == "ExplanationOfBenefit" && s.faults.has(FaultSinceSkipsClaims)) {
		since = millis(*p.Since)
	}
	if p.Until != nil && !s.faults.has(FaultIgnoreUntil) {
		until = millis(*p.Until)
		switch {
		case s.faults.has(FaultUntilAsSince):
			since, until = until, int64(1<<62)
		case s.faults.has(FaultUntilLookback):
			since = max(since, millis(p.Until.AddDate(-1, 0, 0)))
		}
	}
	if s.variants.has(VariantExclusiveBounds) {
		// Times are kept to the millisecond: a strict bound is the next
		// millisecond in.
		if p.Since != nil {
			since++
		}
		if p.Until != nil {
			until--
		}
	}
	// The patients' resources within the window, and the fresh members'
	// up to its end: two disjoint parts (the fresh are left out of the
	// first), each found through the (patient, type) index rather than by
	// reading every resource of the type. patient and id are selected only
	// because a compound SELECT orders by its result columns.
	query := `SELECT json, export, patient, id FROM resources WHERE type = ?
			AND patient IN (SELECT value FROM json_each(?)) AND patient NOT IN (SELECT value FROM json_each(?) WHERE value IS NOT NULL)
			AND last_updated >= ? AND last_updated <= ?
		UNION ALL
		SELECT json, export, patient, id FROM resources WHERE type = ?
			AND patient IN (SELECT value FROM json_each(?)) AND last_updated <= ?
		ORDER BY 3, 4`
	args := []any{typ, patientsJSON, freshJSON, since, until, typ, freshJSON, until}
	if slices.Contains(sharedTypes, typ) {
		query = `SELECT json, export, '', id FROM resources WHERE type = ? AND id IN (
			SELECT DISTINCT id FROM patient_refs WHERE type = ? AND patient IN (SELECT value FROM json_each(?)))
			AND last_updated >= ? AND last_updated <= ? ORDER BY id`
		args = []any{typ, typ, patientsJSON, since, until}
	}
	rows, err := s.store.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := fw.start("output", typ); err != nil {
		return err
	}
	broke := false
	// RawBytes point into the driver's copy of the row, valid until the
	// next row: each line is copied once, into the file buffer, instead of
	// once more by database/sql for every row of a large export.
	var raw, export, patient, id sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&raw, &export, &patient, &id); err != nil {
			return err
		}
		out, keep, err := s.transform(typ, raw, export, filters, &broke)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		if s.claims != nil && typ == "ExplanationOfBenefit" {
			// The edition's claim profiles (Basis from 2.1.0) in place of
			// the NonFinancial ones the stored export form names.
			out = []byte(s.claims.Replace(string(out)))
		}
		if err := fw.line(out); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if typ == "Patient" && s.faults.has(FaultMixedTypesInFile) {
		// A Coverage of a patient this job exports anyway, so that the fault
		// breaks the one-type-per-file rule and leaks nothing.
		var cov []byte
		// It is inside the job's window, so only the file's type is wrong.
		err := s.store.db.QueryRowContext(ctx, `SELECT json FROM resources WHERE type = 'Coverage'
			AND patient IN (SELECT value FROM json_each(?)) AND last_updated >= ? AND last_updated <= ? ORDER BY id LIMIT 1`,
			patientsJSON, since, until).Scan(&cov)
		if err == nil {
			return fw.line(cov)
		}
	}
	return nil
}

// transform applies _typeFilter and returns a resource's exported form:
// the precomputed one (export, nil when it is the stored form) unless a
// fault asks for something else, in which case it is derived here.
func (s *Server) transform(typ string, raw, export []byte, filters []*typeFilter, broke *bool) ([]byte, bool, error) {
	breakThis := typ == "Condition" && s.faults.has(FaultBreakProfile) && !*broke
	invalidThis := typ == "Observation" && s.faults.has(FaultInvalidR4) && !*broke
	financialFault := typ == "ExplanationOfBenefit" && (s.faults.has(FaultKeepFinancial) || s.faults.has(FaultFinancialProfile))
	var res map[string]any
	if len(filters) > 0 || breakThis || invalidThis || financialFault {
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, false, fmt.Errorf("stored %s is not JSON: %w", typ, err)
		}
	}
	if len(filters) > 0 && !slices.ContainsFunc(filters, func(f *typeFilter) bool { return f.match(res) }) {
		return nil, false, nil
	}
	switch {
	case breakThis:
		// US Core Condition requires category (1..*); base R4 does not.
		delete(res, "category")
		*broke = true
	case invalidThis:
		// Observation.status has a required binding; base R4 rejects this.
		res["status"] = "not-a-status"
		*broke = true
	case financialFault && s.faults.has(FaultKeepFinancial):
		return raw, true, nil
	case financialFault:
		if !isClaimEOB(res) {
			return raw, true, nil
		}
		stripFinancial(res, false)
	case export != nil:
		return export, true, nil
	default:
		return raw, true, nil
	}
	out, err := json.Marshal(res)
	return out, true, err
}

// errJobCancelled means a DELETE cancelled the job while it ran.
var errJobCancelled = errors.New("the export job was cancelled")

// complete lists the job's files, records the last download when the mode
// says so, and marks the job complete, all in one transaction: a manifest
// never lists a file that is not whole.
func (s *Server) complete(ctx context.Context, j *job, files []pendingFile, patients []string) error {
	tx, err := s.store.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i, f := range files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO files(id, job, kind, type, count, seq) VALUES(?,?,?,?,?,?)`,
			f.id, j.id, f.kind, f.typ, f.count, i); err != nil {
			return fmt.Errorf("listing file: %w", err)
		}
	}
	kind := j.params.Kind
	if kind == "" {
		kind = j.params.ExportMode // a job stored before kinds were recorded
	}
	if s.edition.tracks(kind, s.faults, s.variants) && !strings.HasPrefix(j.group, matchGroupPrefix) {
		if s.edition.tracksOnGroup(s.faults) {
			if err := s.recordOnGroup(ctx, tx, j.group, patients, j.params, j.transactionTime); err != nil {
				return err
			}
		} else {
			for _, pid := range patients {
				if err := s.recordDownload(ctx, tx, pid, j.transactionTime); err != nil {
					return err
				}
			}
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = ?, finished = ?, progress = 'complete' WHERE id = ? AND state = ?`,
		stateComplete, millis(s.now()), j.id, stateRunning)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errJobCancelled
	}
	return tx.Commit()
}

// recordDownload sets the last-download extension on a member's Patient to
// the job's transaction time, replacing any earlier value (SPEC §4). The
// change is a new version of the Patient, so meta.lastUpdated moves too.
func (s *Server) recordDownload(ctx context.Context, tx *sql.Tx, pid string, at time.Time) error {
	var raw []byte
	err := tx.QueryRowContext(ctx, `SELECT json FROM resources WHERE type = 'Patient' AND id = ?`, pid).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Patient/%s: %w", pid, err)
	}
	var pat map[string]any
	if err := json.Unmarshal(raw, &pat); err != nil {
		return fmt.Errorf("stored Patient/%s: %w", pid, err)
	}
	exts, _ := pat["extension"].([]any)
	if s.faults.has(FaultStaleLastDownload) && slices.ContainsFunc(exts, func(e any) bool {
		m, _ := e.(map[string]any)
		return m["url"] == s.edition.LastDownloadURL
	}) {
		return nil // recorded once, never replaced
	}
	if !s.faults.has(FaultAppendLastDownload) {
		exts = slices.DeleteFunc(exts, func(e any) bool {
			m, _ := e.(map[string]any)
			return m["url"] == LastTransmissionURL
		})
	}
	stamp := at.UTC().Format(time.RFC3339Nano)
	exts = append(exts, map[string]any{"url": s.edition.LastDownloadURL, "valueDateTime": stamp})
	if s.faults.has(FaultDuplicateLastDownload) {
		exts = append(exts, map[string]any{"url": s.edition.LastDownloadURL, "valueDateTime": stamp})
	}
	pat["extension"] = exts
	meta, _ := pat["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		pat["meta"] = meta
	}
	meta["lastUpdated"] = stamp
	out, err := json.Marshal(pat)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE resources SET json = ?, last_updated = ? WHERE type = 'Patient' AND id = ?`, out, millis(at), pid); err != nil {
		return fmt.Errorf("recording the download on Patient/%s: %w", pid, err)
	}
	return nil
}

// pendingFile is a file written but not yet listed.
type pendingFile struct {
	id, kind, typ string
	count         int
}

// fileWriter writes NDJSON lines into chunked files in the database.
type fileWriter struct {
	s   *Server
	ctx context.Context
	job string
	// maxLines starts a new file of the same type past that many lines.
	maxLines int
	cur      *pendingFile
	seq      int
	buf      bytes.Buffer
	files    []pendingFile
}

func (w *fileWriter) start(kind, typ string) error {
	if err := w.finish(); err != nil {
		return err
	}
	w.cur = &pendingFile{kind: kind, typ: typ}
	return nil
}

func (w *fileWriter) line(l []byte) error {
	if w.cur.id == "" {
		id, err := randomHex(16)
		if err != nil {
			return err
		}
		w.cur.id, w.seq = id, 0
	}
	w.buf.Write(l)
	w.buf.WriteByte('\n')
	w.cur.count++
	if w.buf.Len() >= chunkSize {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if w.cur.count >= w.maxLines {
		if err := w.flush(); err != nil {
			return err
		}
		kind, typ := w.cur.kind, w.cur.typ
		w.closeFile()
		w.cur = &pendingFile{kind: kind, typ: typ}
	}
	return nil
}

func (w *fileWriter) flush() error {
	if w.buf.Len() == 0 {
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	_, err := w.s.store.db.ExecContext(w.ctx, `INSERT INTO file_chunks(file, seq, job, data) VALUES(?,?,?,?)`,
		w.cur.id, w.seq, w.job, w.buf.Bytes())
	if err != nil {
		return fmt.Errorf("writing file chunk: %w", err)
	}
	w.seq++
	w.buf.Reset()
	if w.s.opts.chunkWritten != nil {
		w.s.opts.chunkWritten()
	}
	return nil
}

// closeFile keeps the current file if it holds any line.
func (w *fileWriter) closeFile() {
	if w.cur != nil && w.cur.count > 0 {
		w.files = append(w.files, *w.cur)
	}
	w.cur = nil
}

func (w *fileWriter) finish() error {
	if w.cur != nil {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.closeFile()
	return nil
}
