package reference

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pdex-conform/pdex-conform/fixtures"
)

// Options configure a Server.
type Options struct {
	// DB is the SQLite database file; it is created when missing.
	DB string
	// Template, when set, is a database file made by Prepare that a
	// missing DB starts as a copy of: its data set and registered clients
	// are loaded already, so that many short-lived servers over the same
	// data (the fault tables) skip generating, loading and key making. It
	// must come from the same variants (they shape the data).
	Template string
	// Data is loaded into an empty database. Nil means Load, or else the
	// default fixtures.
	Data *fixtures.Dataset
	// Load, when set and Data is nil, reads the data set to load into an
	// empty database. It is called only when the database is empty: a
	// database already loaded starts without reading the data again (a
	// large data set takes long to read and much memory to hold).
	Load func() (*fixtures.Dataset, error)
	// BaseURL is the server's public base URL, without a trailing slash; the
	// manifest's URLs and the token audience derive from it.
	BaseURL string
	// Edition of the PDex IG; "" means 2.0.0.
	Edition string
	// Faults to switch on (see Faults).
	Faults []string
	// Variants to switch on (see Variants): conformant variations.
	Variants []string
	// Operation is the export operation served: "davinci-data-export"
	// (PDex, the default) or "export" (plain Bulk Data, see operation.go).
	Operation string
	// Workers run export jobs; 0 means 2.
	Workers int
	// MaxJobsPerClient bounds concurrent jobs per client; past it a kick-off
	// gets 429. 0 means 4.
	MaxJobsPerClient int
	// FileTTL is how long a finished job's files stay; 0 means one hour.
	FileTTL time.Duration
	// StatusHold is how long a status request waits for a running job to
	// finish before answering 202, so that small exports complete in one
	// round trip; 0 means 400 ms, negative means no wait.
	StatusHold time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// TLS, when set, makes Listen serve HTTPS with it (see LoadTLSConfig);
	// with ClientAuth set to RequireAndVerifyClientCert, a client without a
	// certificate from the trusted CAs cannot connect (mutual TLS).
	TLS *tls.Config

	// beforeExport, when set, runs after a worker has claimed a job and
	// before it exports anything; tests use it to hold a job in "running".
	// An error ends the job as if the export had failed with it.
	beforeExport func(ctx context.Context, jobID string) error
	// chunkWritten, when set, runs after each file chunk is stored; the
	// kill test uses it to slow an export down enough to be killed in the
	// middle, whatever the machine's speed.
	chunkWritten func()
}

// Server is the reference Provider Access server.
type Server struct {
	opts     Options
	store    *store
	edition  *edition
	faults   faults
	variants variants
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	auth     *authority
	// claims rewrites exported claim EOBs' profiles to the edition's
	// (nil when the stored export form already names them).
	claims *strings.Replacer

	// orgs maps provider NPIs to Organization ids, read once.
	orgsOnce sync.Once
	orgs     map[string]string
	orgsErr  error

	// peopleIx indexes members for member-match (see people).
	peopleMu sync.Mutex
	peopleIx *people

	// kickoffMu makes counting a client's active jobs and creating a new one
	// atomic, so concurrent kick-offs cannot exceed MaxJobsPerClient.
	kickoffMu sync.Mutex

	queue   chan string
	wg      sync.WaitGroup
	stop    context.CancelFunc
	running sync.Map // job id -> context.CancelFunc
}

// New opens the database, loads the data set into it when empty, and starts
// the export workers. Jobs cut off by an earlier stop are queued again.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("reference: BaseURL is required")
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.MaxJobsPerClient <= 0 {
		opts.MaxJobsPerClient = 4
	}
	if opts.FileTTL <= 0 {
		opts.FileTTL = time.Hour
	}
	if opts.StatusHold == 0 {
		opts.StatusHold = 400 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	op, err := checkOperation(opts.Operation)
	if err != nil {
		return nil, err
	}
	opts.Operation = op
	ed, err := lookupEdition(opts.Edition)
	if err != nil {
		return nil, err
	}
	f, err := parseFaults(opts.Faults, ed.Name)
	if err != nil {
		return nil, err
	}
	v, err := parseVariants(opts.Variants, ed.Name)
	if err != nil {
		return nil, err
	}
	if opts.Template != "" {
		if err := copyTemplate(opts.Template, opts.DB); err != nil {
			return nil, err
		}
	}
	st, err := openStore(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, store: st, edition: ed, faults: f, variants: v, log: opts.Logger, now: opts.Now,
		queue: make(chan string, 1024), claims: ed.profileClaims(),
	}
	if err := s.loadData(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if s.auth, err = newAuthority(ctx, s); err != nil {
		st.Close()
		return nil, err
	}
	s.routes()
	wctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	if err := s.startWorkers(wctx); err != nil {
		stop()
		st.Close()
		return nil, err
	}
	return s, nil
}

// Prepare makes a database at path holding the data set and the registered
// clients of a server with opts (its DB is path), for Options.Template.
func Prepare(ctx context.Context, path string, opts Options) error {
	opts.DB = path
	if opts.BaseURL == "" {
		opts.BaseURL = "http://127.0.0.1"
	}
	s, err := New(ctx, opts)
	if err != nil {
		return err
	}
	// Everything into the database file itself, so that the file alone is
	// the template.
	if _, err := s.store.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		s.Close()
		return fmt.Errorf("checkpointing the template: %w", err)
	}
	return s.Close()
}

// copyTemplate copies a prepared database to db unless db exists.
func copyTemplate(template, db string) error {
	if _, err := os.Stat(db); err == nil {
		return nil
	}
	src, err := os.Open(template)
	if err != nil {
		return fmt.Errorf("reading the database template: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(db, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s from the template: %w", db, err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("copying the database template to %s: %w", db, err)
	}
	return dst.Close()
}

func (s *Server) loadData(ctx context.Context) error {
	empty, err := s.store.empty(ctx)
	if err != nil || !empty {
		return err
	}
	d := s.opts.Data
	switch {
	case d != nil:
	case s.opts.Load != nil:
		if d, err = s.opts.Load(); err != nil {
			return fmt.Errorf("reading the data set: %w", err)
		}
	default:
		if d, err = fixtures.Default(); err != nil {
			return fmt.Errorf("generating the default data set: %w", err)
		}
	}
	if d, err = s.variantData(d); err != nil {
		return fmt.Errorf("preparing the data set: %w", err)
	}
	if err := s.store.load(ctx, d); err != nil {
		return fmt.Errorf("loading the data set: %w", err)
	}
	return nil
}

// Handler serves the FHIR API.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops the workers and closes the database. Jobs still running are
// left "running" in the database and resume on the next start.
func (s *Server) Close() error {
	s.stop()
	s.wg.Wait()
	return s.store.Close()
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /metadata", s.handleMetadata)
	m.HandleFunc("GET /.well-known/smart-configuration", s.handleSmartConfig)
	m.Handle("POST /auth/token", s.auth.tokenHandler())
	m.HandleFunc("GET /Group/{id}", s.authorized(s.handleGroupRead))
	m.HandleFunc("GET /Group", s.authorized(s.handleGroupSearch))
	m.HandleFunc("POST /Group/$provider-member-match", s.authorized(s.handleMemberMatch))
	m.HandleFunc("POST /Group/{id}/{op}", s.authorized(s.handleKickoff))
	m.HandleFunc("POST /Consent", s.consentWriter("c", s.handleConsentCreate))
	m.HandleFunc("PUT /Consent/{id}", s.consentWriter("u", s.handleConsentUpdate))
	m.HandleFunc("DELETE /Consent/{id}", s.consentWriter("d", s.handleConsentDelete))
	m.HandleFunc("GET /Group/{id}/{op}", s.authorized(s.handleKickoff))
	m.HandleFunc("GET /jobs/{id}", s.authorized(s.handleStatus))
	m.HandleFunc("DELETE /jobs/{id}", s.authorized(s.handleDelete))
	m.HandleFunc("GET /files/{id}", s.handleFile)
	m.HandleFunc("GET /{type}/{id}", s.authorized(s.handleRead))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeOutcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	s.mux = m
}

// Running is a reference server listening on a local address.
type Running struct {
	*Server
	URL  string
	http *http.Server
}

// Listen binds addr (e.g. 127.0.0.1:0), builds a Server whose BaseURL is the
// bound address unless opts.BaseURL is set, and serves it in the background:
// over HTTPS when opts.TLS is set, plain HTTP otherwise.
func Listen(ctx context.Context, addr string, opts Options) (*Running, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	scheme := "http://"
	if opts.TLS != nil {
		scheme = "https://"
	}
	if opts.BaseURL == "" {
		opts.BaseURL = scheme + ln.Addr().String()
	}
	s, err := New(ctx, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	hs := &http.Server{
		Handler: s.Handler(),
		// Slow clients must not hold connections forever; the write
		// timeout is left open because a large file streams for as long as
		// the client reads it.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if opts.TLS != nil {
		hs.TLSConfig = opts.TLS.Clone()
		// The certificates are in TLSConfig, so no files are named here.
		go hs.ServeTLS(ln, "", "")
	} else {
		go hs.Serve(ln)
	}
	return &Running{Server: s, URL: opts.BaseURL, http: hs}, nil
}

// Close stops serving and closes the server.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.http.Shutdown(ctx)
	return r.Server.Close()
}
