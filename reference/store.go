package reference

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/pdex-conform/pdex-conform/fixtures"
)

// store is the server's embedded SQLite database: the payer's resources, the
// export jobs, their files, and settings such as the token-signing secret.
// Everything a restart must not lose lives here.
type store struct {
	db *statements
}

// statements is the database with its statements prepared once: the
// server runs a few dozen fixed queries over and over, and preparing one
// (parsing and planning the SQL) costs as much as running it on a small
// export. Queries beyond maxStatements run unprepared, so that no caller
// can grow the cache without end.
type statements struct {
	*sql.DB
	mu       sync.Mutex
	prepared map[string]*sql.Stmt
}

const maxStatements = 128

func (d *statements) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st, ok := d.prepared[query]; ok {
		return st, nil
	}
	if len(d.prepared) >= maxStatements {
		return nil, nil
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if d.prepared == nil {
		d.prepared = map[string]*sql.Stmt{}
	}
	d.prepared[query] = st
	return st, nil
}

// QueryContext is sql.DB's, through the prepared statement.
func (d *statements) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.stmt(ctx, query)
	if err != nil || st == nil {
		return d.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext is sql.DB's, through the prepared statement.
func (d *statements) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.stmt(ctx, query)
	if err != nil || st == nil {
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// ExecContext is sql.DB's, through the prepared statement.
func (d *statements) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.stmt(ctx, query)
	if err != nil || st == nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// Close closes the statements, then the database.
func (d *statements) Close() error {
	d.mu.Lock()
	for _, st := range d.prepared {
		st.Close()
	}
	d.prepared = nil
	d.mu.Unlock()
	return d.DB.Close()
}

const schema = `
CREATE TABLE IF NOT EXISTS resources(
	type TEXT NOT NULL,
	id TEXT NOT NULL,
	patient TEXT NOT NULL,          -- compartment owner, '' for shared resources
	last_updated INTEGER NOT NULL,  -- unix milliseconds
	json BLOB NOT NULL,             -- the stored form, as the payer holds it
	export BLOB,                    -- the exported form when it differs (claim EOBs without financial detail)
	PRIMARY KEY(type, id)
);
CREATE INDEX IF NOT EXISTS resources_patient ON resources(patient, type);
-- Shared resources (Organization, Practitioner) referenced from a patient's
-- compartment, so that an export can include what its resources point to.
CREATE TABLE IF NOT EXISTS patient_refs(
	patient TEXT NOT NULL,
	type TEXT NOT NULL,
	id TEXT NOT NULL,
	PRIMARY KEY(patient, type, id)
);
CREATE TABLE IF NOT EXISTS jobs(
	id TEXT PRIMARY KEY,
	client TEXT NOT NULL,
	state TEXT NOT NULL,            -- queued | running | complete | failed | cancelled
	request TEXT NOT NULL,          -- the kick-off URL, for the manifest
	params BLOB NOT NULL,           -- exportParams as JSON
	created INTEGER NOT NULL,
	transaction_time INTEGER NOT NULL DEFAULT 0,
	finished INTEGER NOT NULL DEFAULT 0,
	progress TEXT NOT NULL DEFAULT '',
	outcome BLOB                    -- OperationOutcome when failed
);
CREATE TABLE IF NOT EXISTS files(
	id TEXT PRIMARY KEY,            -- 128 random bits, hex: the unguessable URL part
	job TEXT NOT NULL,
	kind TEXT NOT NULL,             -- output | error
	type TEXT NOT NULL,
	count INTEGER NOT NULL,
	seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_job ON files(job);
CREATE TABLE IF NOT EXISTS file_chunks(
	file TEXT NOT NULL,
	seq INTEGER NOT NULL,
	job TEXT NOT NULL,              -- so an interrupted job's chunks can be found before its files are listed
	data BLOB NOT NULL,
	PRIMARY KEY(file, seq)
);
CREATE INDEX IF NOT EXISTS file_chunks_job ON file_chunks(job);
-- Matched Groups of $provider-member-match: who asked for each, and until
-- when it may be read and exported.
CREATE TABLE IF NOT EXISTS match_groups(
	id TEXT PRIMARY KEY,
	client TEXT NOT NULL,
	expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings(
	key TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`

func openStore(ctx context.Context, path string) (*store, error) {
	// WAL lets downloads read while a job writes; busy_timeout serialises
	// writers instead of failing them.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating schema in %s: %w", path, err)
	}
	st := &store{db: &statements{DB: db}}
	if err := st.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("upgrading %s: %w", path, err)
	}
	return st, nil
}

// migrate brings a database made by an earlier version up to the schema:
// the export column was added later, and is filled for stored EOBs.
func (s *store) migrate(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('resources') WHERE name = 'export'`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `ALTER TABLE resources ADD COLUMN export BLOB`); err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, json FROM resources WHERE type = 'ExplanationOfBenefit'`)
	if err != nil {
		return err
	}
	type pending struct {
		id  string
		out []byte
	}
	var updates []pending
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return err
		}
		out, err := exportForm("ExplanationOfBenefit", raw)
		if err != nil {
			rows.Close()
			return fmt.Errorf("ExplanationOfBenefit/%s: %w", id, err)
		}
		if out != nil {
			updates = append(updates, pending{id, out})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, u := range updates {
		if _, err := s.db.ExecContext(ctx, `UPDATE resources SET export = ? WHERE type = 'ExplanationOfBenefit' AND id = ?`, u.out, u.id); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) Close() error { return s.db.Close() }

// empty reports whether no resources are loaded yet.
func (s *store) empty(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM resources LIMIT 1)`).Scan(&n); err != nil {
		return false, fmt.Errorf("counting resources: %w", err)
	}
	return n == 0, nil
}

// load stores a data set in one transaction.
func (s *store) load(ctx context.Context, d *fixtures.Dataset) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO resources(type, id, patient, last_updated, json, export) VALUES(?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	ref, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO patient_refs(patient, type, id) VALUES(?,?,?)`)
	if err != nil {
		return err
	}
	for _, r := range d.Resources {
		// The exported form is computed once here, not on every export.
		exp, err := exportForm(r.Type, r.JSON)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", r.Type, r.ID, err)
		}
		if _, err := ins.ExecContext(ctx, r.Type, r.ID, r.PatientID, r.LastUpdated.UnixMilli(), r.JSON, exp); err != nil {
			return fmt.Errorf("storing %s/%s: %w", r.Type, r.ID, err)
		}
		if r.PatientID == "" {
			continue
		}
		for _, t := range sharedReferences(r.JSON) {
			if _, err := ref.ExecContext(ctx, r.PatientID, t.typ, t.id); err != nil {
				return fmt.Errorf("storing references of %s/%s: %w", r.Type, r.ID, err)
			}
		}
	}
	return tx.Commit()
}

type typedID struct{ typ, id string }

// sharedTypes are the resource types outside any patient compartment that an
// export carries along when a member's resources reference them.
var sharedTypes = []string{"Organization", "Practitioner", "PractitionerRole", "Location"}

// sharedReferences finds references to shared resources in raw JSON without
// decoding it: loading must stay fast for large data sets.
func sharedReferences(raw []byte) []typedID {
	var out []typedID
	key := []byte(`"reference":"`)
	for rest := raw; ; {
		i := bytes.Index(rest, key)
		if i < 0 {
			return out
		}
		rest = rest[i+len(key):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return out
		}
		ref := string(rest[:end])
		typ, id, ok := strings.Cut(ref, "/")
		if !ok || strings.Contains(id, "/") {
			continue
		}
		for _, t := range sharedTypes {
			if typ == t {
				out = append(out, typedID{typ, id})
			}
		}
	}
}

var errNotFound = errors.New("not found")

// read returns one stored resource.
func (s *store) read(ctx context.Context, typ, id string) ([]byte, error) {
	var raw []byte
	err := s.db.QueryRowContext(ctx, `SELECT json FROM resources WHERE type = ? AND id = ?`, typ, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", typ, id, err)
	}
	return raw, nil
}

// readWithPatient returns one stored resource, its exported form (nil when
// the same) and the patient whose compartment holds it ("" for shared
// resources).
func (s *store) readWithPatient(ctx context.Context, typ, id string) (raw, export []byte, patient string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT json, export, patient FROM resources WHERE type = ? AND id = ?`, typ, id).Scan(&raw, &export, &patient)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, "", errNotFound
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("reading %s/%s: %w", typ, id, err)
	}
	return raw, export, patient, nil
}

// ofType returns every stored resource of a type (used for small sets such as
// Groups and Consents).
func (s *store) ofType(ctx context.Context, typ string) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT json FROM resources WHERE type = ? ORDER BY id`, typ)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", typ, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, rows.Err()
}

// setting reads a value, creating it with make when absent.
func (s *store) setting(ctx context.Context, key string, make func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading setting %s: %w", key, err)
	}
	v, err = make()
	if err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO settings(key, value) VALUES(?, ?)`, key, v); err != nil {
		return nil, fmt.Errorf("writing setting %s: %w", key, err)
	}
	// Another process may have won the race: read back what is stored.
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return nil, fmt.Errorf("reading setting %s: %w", key, err)
	}
	return v, nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// ids runs a query that selects one text column and returns its values.
func (s *store) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
