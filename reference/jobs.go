package reference

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

const (
	stateQueued    = "queued"
	stateRunning   = "running"
	stateComplete  = "complete"
	stateFailed    = "failed"
	stateCancelled = "cancelled"
)

// job is a row of the jobs table.
type job struct {
	id, client, state, request, progress string
	group                                string
	params                               exportParams
	created, transactionTime, finished   time.Time
	outcome                              []byte
}

// storedParams is what the jobs table keeps of a request.
type storedParams struct {
	Group  string       `json:"group"`
	Params exportParams `json:"params"`
}

func randomHex(nBytes int) (string, error) {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (s *Server) createJob(ctx context.Context, client, group, request string, p *exportParams) (string, error) {
	id, err := randomHex(16)
	if err != nil {
		return "", err
	}
	raw, err := json.Marshal(storedParams{Group: group, Params: *p})
	if err != nil {
		return "", err
	}
	_, err = s.store.db.ExecContext(ctx,
		`INSERT INTO jobs(id, client, state, request, params, created) VALUES(?,?,?,?,?,?)`,
		id, client, stateQueued, request, raw, millis(s.now()))
	if err != nil {
		return "", fmt.Errorf("creating job: %w", err)
	}
	select {
	case s.queue <- id:
	default:
		// The queue is full; the job stays queued in the database and the
		// workers' periodic sweep picks it up.
	}
	return id, nil
}

// errTooManyJobs refuses a kick-off past MaxJobsPerClient.
var errTooManyJobs = errors.New("too many active export jobs")

// admitJob creates a job unless the client already has MaxJobsPerClient
// queued or running; then it returns errTooManyJobs and the active count.
func (s *Server) admitJob(ctx context.Context, client, group, request string, p *exportParams) (string, int, error) {
	s.kickoffMu.Lock()
	defer s.kickoffMu.Unlock()
	active, err := s.activeJobs(ctx, client)
	if err != nil {
		return "", 0, err
	}
	if active >= s.opts.MaxJobsPerClient {
		return "", active, errTooManyJobs
	}
	id, err := s.createJob(ctx, client, group, request, p)
	return id, active, err
}

func (s *Server) activeJobs(ctx context.Context, client string) (int, error) {
	var n int
	err := s.store.db.QueryRowContext(ctx,
		`SELECT count(*) FROM jobs WHERE client = ? AND state IN (?, ?)`, client, stateQueued, stateRunning).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting jobs: %w", err)
	}
	return n, nil
}

func (s *Server) job(ctx context.Context, id string) (*job, error) {
	var j job
	var raw []byte
	var created, tt, fin int64
	err := s.store.db.QueryRowContext(ctx,
		`SELECT id, client, state, request, params, created, transaction_time, finished, progress, outcome FROM jobs WHERE id = ?`, id).
		Scan(&j.id, &j.client, &j.state, &j.request, &raw, &created, &tt, &fin, &j.progress, &j.outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading job %s: %w", id, err)
	}
	var sp storedParams
	if err := json.Unmarshal(raw, &sp); err != nil {
		return nil, fmt.Errorf("job %s: stored parameters: %w", id, err)
	}
	j.group, j.params = sp.Group, sp.Params
	j.created, j.transactionTime, j.finished = fromMillis(created), fromMillis(tt), fromMillis(fin)
	return &j, nil
}

// cancelJob marks a job cancelled, stops it if running and deletes its files.
func (s *Server) cancelJob(ctx context.Context, id string) error {
	// finished is set so that the sweep removes the row after FileTTL.
	if _, err := s.store.db.ExecContext(ctx, `UPDATE jobs SET state = ?, finished = ? WHERE id = ?`, stateCancelled, millis(s.now()), id); err != nil {
		return fmt.Errorf("cancelling job %s: %w", id, err)
	}
	if stop, ok := s.running.Load(id); ok {
		stop.(context.CancelFunc)()
	}
	return s.deleteFiles(ctx, id)
}

func (s *Server) deleteFiles(ctx context.Context, jobID string) error {
	tx, err := s.store.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM file_chunks WHERE job = ?`, jobID); err != nil {
		return fmt.Errorf("deleting files of job %s: %w", jobID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE job = ?`, jobID); err != nil {
		return fmt.Errorf("deleting files of job %s: %w", jobID, err)
	}
	return tx.Commit()
}

type fileRow struct {
	id, job, client, kind, typ string
	count                      int
	size                       int64
	finished                   time.Time // when its job completed
}

func (s *Server) file(ctx context.Context, id string) (*fileRow, error) {
	var f fileRow
	var fin int64
	err := s.store.db.QueryRowContext(ctx, `
		SELECT f.id, f.job, j.client, f.kind, f.type, f.count, j.finished,
		       (SELECT coalesce(sum(length(data)), 0) FROM file_chunks WHERE file = f.id)
		FROM files f JOIN jobs j ON j.id = f.job
		WHERE f.id = ? AND j.state = ?`, id, stateComplete).
		Scan(&f.id, &f.job, &f.client, &f.kind, &f.typ, &f.count, &fin, &f.size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading file %s: %w", id, err)
	}
	f.finished = fromMillis(fin)
	return &f, nil
}

// streamFile copies a file's chunks to w one at a time: memory stays at one
// chunk whatever the file's size. Each chunk is read by its own query, so
// that a slow client holds no read transaction open for long, and as
// RawBytes, so that database/sql does not copy every megabyte once more.
func (s *Server) streamFile(ctx context.Context, w io.Writer, id string) error {
	for seq := 0; ; seq++ {
		found, err := s.writeChunk(ctx, w, id, seq)
		if err != nil || !found {
			return err
		}
	}
}

func (s *Server) writeChunk(ctx context.Context, w io.Writer, id string, seq int) (bool, error) {
	rows, err := s.store.db.QueryContext(ctx, `SELECT data FROM file_chunks WHERE file = ? AND seq = ?`, id, seq)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	var data sql.RawBytes
	if err := rows.Scan(&data); err != nil {
		return false, err
	}
	if _, err := w.Write(data); err != nil {
		return false, err
	}
	return true, rows.Close()
}

// manifest builds the Bulk Data manifest of a complete job.
func (s *Server) manifest(ctx context.Context, j *job) (map[string]any, error) {
	rows, err := s.store.db.QueryContext(ctx, `SELECT id, kind, type, count FROM files WHERE job = ? ORDER BY kind, seq`, j.id)
	if err != nil {
		return nil, fmt.Errorf("listing files of job %s: %w", j.id, err)
	}
	defer rows.Close()
	output, errs := []any{}, []any{}
	for rows.Next() {
		var id, kind, typ string
		var count int
		if err := rows.Scan(&id, &kind, &typ, &count); err != nil {
			return nil, err
		}
		url := s.opts.BaseURL + "/files/" + id
		if s.faults.has(FaultRelativeURLs) {
			url = "/files/" + id
		}
		if s.faults.has(FaultWrongCount) && kind == "output" {
			count++
		}
		entry := map[string]any{"type": typ, "url": url, "count": count}
		if kind == "error" {
			errs = append(errs, entry)
		} else {
			output = append(output, entry)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	m := map[string]any{
		"transactionTime":     j.transactionTime.Format(time.RFC3339Nano),
		"request":             j.request,
		"requiresAccessToken": true,
		"output":              output,
		"error":               errs,
	}
	if s.faults.has(FaultManifestMissing) {
		delete(m, "transactionTime")
	}
	return m, nil
}

// groupIDs lists the stored Groups' ids.
func (s *Server) groupIDs(ctx context.Context) ([]string, error) {
	ids, err := s.store.ids(ctx, `SELECT id FROM resources WHERE type = 'Group' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	return ids, nil
}

// groupMembers reads the member patient ids of a Group as the server
// serves it, in order: without opted-out members under the
// opted-out-outside-group variant.
func (s *Server) groupMembers(ctx context.Context, id string) ([]string, error) {
	ms, err := s.storedMembers(ctx, id)
	if err != nil || s.edition.ProviderGroups || !s.variants.has(VariantOptedOutOutsideGroup) {
		return ms, err
	}
	opted, err := s.optedOut(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ms, func(pid string) bool { return opted[pid] }), nil
}

// storedGroup is what the server reads of a stored Group's members.
type storedGroup struct {
	Member []struct {
		Entity struct {
			Reference string `json:"reference"`
		} `json:"entity"`
		Period struct {
			Start string `json:"start"`
		} `json:"period"`
		Inactive bool `json:"inactive"`
	} `json:"member"`
}

func (s *Server) readStoredGroup(ctx context.Context, id string) (*storedGroup, error) {
	raw, err := s.store.read(ctx, "Group", id)
	if err != nil {
		return nil, err
	}
	var g storedGroup
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("stored Group/%s: %w", id, err)
	}
	return &g, nil
}

// storedMembers reads the active member patient ids of a Group as stored,
// in order.
func (s *Server) storedMembers(ctx context.Context, id string) ([]string, error) {
	g, err := s.readStoredGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range g.Member {
		if m.Inactive {
			continue
		}
		if pid, ok := patientID(m.Entity.Reference); ok {
			out = append(out, pid)
		}
	}
	return out, nil
}

// memberStarts reads when each member's attribution began
// (member.period.start; a date is read as its first instant, UTC).
func (s *Server) memberStarts(ctx context.Context, id string) (map[string]time.Time, error) {
	g, err := s.readStoredGroup(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, m := range g.Member {
		pid, ok := patientID(m.Entity.Reference)
		if !ok || m.Period.Start == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, m.Period.Start)
		if err != nil {
			t, err = time.Parse(time.DateOnly, m.Period.Start)
		}
		if err == nil {
			out[pid] = t.UTC()
		}
	}
	return out, nil
}

// optedOutOutsideGroup reports whether the Group as served leaves opted-out
// members out: from 2.1.0 it must (§pdex-343/344, unless a fault keeps them
// listed); in 2.0.0 the opted-out-outside-group variant does.
func (s *Server) optedOutOutsideGroup() bool {
	if s.edition.ProviderGroups {
		return !s.faults.has(FaultListOptedOut)
	}
	return s.variants.has(VariantOptedOutOutsideGroup)
}

// nonMember picks a stored patient outside the group who has not opted out:
// for the run configuration's non-member and the include-non-member fault.
// An opted-out patient would mix two rules (membership and opt-out), so
// that a check of one could pass thanks to the other.
func (s *Server) nonMember(ctx context.Context, members []string) (string, error) {
	opted, err := s.optedOut(ctx)
	if err != nil {
		return "", err
	}
	member := make(map[string]bool, len(members))
	for _, m := range members {
		member[m] = true
	}
	rows, err := s.store.db.QueryContext(ctx, `SELECT id FROM resources WHERE type = 'Patient' ORDER BY id`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		if !member[id] && !opted[id] {
			return id, nil
		}
	}
	return "", rows.Err()
}

// outcomeLine is one NDJSON line of an error file.
func outcomeLine(code, diagnostics string) []byte {
	b, _ := json.Marshal(outcome("warning", code, diagnostics))
	return b
}
