package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/pdex-conform/pdex-conform/evidence"
)

// ErrTargetDown is a request not sent because the target stopped answering:
// several connection attempts in a row failed and a fresh connection was
// refused too. Poll does not retry it.
var ErrTargetDown = errors.New("the target stopped answering")

// Liveness is an http.RoundTripper that notices a target that stops
// answering: after Streak connection failures in a row (refused, reset,
// closed before an answer, no route), with no answer in between, it dials
// the target once more, and when that fails too it declares the target
// down. From then on every request fails at once with ErrTargetDown, so
// that a run against a dead server stops waiting on it (no retries, no
// timeouts) and ends with each remaining check blocked rather than failed.
//
// Only connection-level failures count: an HTTP error status is an answer,
// and a slow answer is bounded by the request timeout, not by this.
type Liveness struct {
	Base http.RoundTripper
	// Streak is how many connection failures in a row make the target
	// suspect; 0 means 3.
	Streak int
	// Refused, when set, is called each time a request is refused because
	// the target is down (the run marks the current check blocked); Failed
	// each time a request meets a connection failure.
	Refused, Failed func()

	mu       sync.Mutex
	started  time.Time
	failures int
	first    *Attempt // the first failure of the current streak
	last     *Attempt // the last request answered
	down     *Outage
}

// Attempt is one request as an outage report names it.
type Attempt struct {
	Method, URL string
	At          time.Time
	// Status is the answer's status; Err why there was none.
	Status int
	Err    string
}

func (a Attempt) String() string {
	if a.Err != "" {
		return fmt.Sprintf("%s %s (%s)", a.Method, a.URL, a.Err)
	}
	return fmt.Sprintf("%s %s (HTTP %d)", a.Method, a.URL, a.Status)
}

// Outage says when and after which request the target stopped answering.
type Outage struct {
	// At is when the target was declared down; Since is the start of the
	// Liveness (the run).
	At, Since time.Time
	// LastAnswered is the last request the target answered (nil when it
	// answered none); FirstUnanswered the first of the failed streak.
	LastAnswered, FirstUnanswered *Attempt
	// Failures is the length of the streak, the fresh dial included.
	Failures int
	// Refused counts the requests not sent after it.
	Refused int
}

// NewLiveness watches base (nil means http.DefaultTransport).
func NewLiveness(base http.RoundTripper) *Liveness {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Liveness{Base: base, started: time.Now()}
}

// Down returns the outage, or nil while the target answers.
func (l *Liveness) Down() *Outage {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down == nil {
		return nil
	}
	o := *l.down
	return &o
}

func (l *Liveness) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	if l.down != nil {
		l.down.Refused++
		refused := l.Refused
		l.mu.Unlock()
		if req.Body != nil {
			req.Body.Close()
		}
		if refused != nil {
			refused()
		}
		return nil, fmt.Errorf("%w: not sent", ErrTargetDown)
	}
	l.mu.Unlock()
	resp, err := l.Base.RoundTrip(req)
	a := &Attempt{Method: req.Method, URL: evidence.RedactURL(req.URL.String()), At: time.Now()}
	if err == nil {
		a.Status = resp.StatusCode
		l.mu.Lock()
		l.failures, l.first, l.last = 0, nil, a
		l.mu.Unlock()
		return resp, nil
	}
	if !ConnectionFailure(err) {
		return nil, err
	}
	a.Err = PlainNetError(err)
	if l.Failed != nil {
		l.Failed()
	}
	l.mu.Lock()
	l.failures++
	if l.first == nil {
		l.first = a
	}
	suspect := l.failures >= l.streak()
	l.mu.Unlock()
	if suspect && !l.dial(req) {
		l.mu.Lock()
		if l.down == nil {
			l.down = &Outage{At: time.Now(), Since: l.started, LastAnswered: l.last, FirstUnanswered: l.first, Failures: l.failures + 1}
		}
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrTargetDown, err)
	}
	return nil, err
}

func (l *Liveness) streak() int {
	if l.Streak > 0 {
		return l.Streak
	}
	return 3
}

// dial opens a fresh connection to the request's host: a server that has
// only dropped some connections (a restart of one worker, a proxy blip)
// still accepts one.
func (l *Liveness) dial(req *http.Request) bool {
	host := req.URL.Host
	if req.URL.Port() == "" {
		port := "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(req.URL.Hostname(), port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ConnectionFailure reports whether err means the target did not answer at
// all: the connection was refused, reset or closed before an answer, the
// host had no route, or the name did not resolve. A timeout is not one (a
// slow target answers, late), nor is a TLS or redirect error.
func ConnectionFailure(err error) bool {
	if errors.Is(err, ErrTargetDown) {
		return true
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && !dns.IsTimeout {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" && !op.Timeout() {
		return true
	}
	return false
}

// PlainNetError says in words why a request got no answer (connection
// refused, reset, closed, no route, a name that does not resolve), or
// returns err's own text.
func PlainNetError(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before an answer"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the host"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in time"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "the host name " + dns.Name + " does not resolve"
	}
	return err.Error()
}
