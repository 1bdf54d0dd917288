package bulk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestLivenessNoticesADeadTarget: a target that answers, then dies, is
// declared down after the streak and a refused fresh connection; from then
// on requests fail at once with ErrTargetDown, and the outage names the last
// request answered and the first that was not.
func TestLivenessNoticesADeadTarget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	l := NewLiveness(nil)
	refused := 0
	l.Refused = func() { refused++ }
	hc := &http.Client{Transport: l}
	get := func() error {
		resp, err := hc.Get(srv.URL + "/metadata")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	for i := range 3 {
		err := get()
		if err == nil {
			t.Fatal("a closed server answered")
		}
		if down := errors.Is(err, ErrTargetDown); down != (i == 2) {
			t.Errorf("failure %d: ErrTargetDown %v", i+1, down)
		}
	}
	o := l.Down()
	if o == nil || o.LastAnswered == nil || o.LastAnswered.Status != 200 || o.FirstUnanswered == nil || o.FirstUnanswered.Err != "connection refused" {
		t.Fatalf("outage %+v", o)
	}
	start := time.Now()
	err := get()
	if !errors.Is(err, ErrTargetDown) || time.Since(start) > 100*time.Millisecond || refused != 1 {
		t.Errorf("after the outage: %v in %s, refused %d", err, time.Since(start), refused)
	}
}

// TestLivenessForgivesBlips: connection failures with answers in between,
// or a streak while a fresh connection still succeeds, are no outage.
func TestLivenessForgivesBlips(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // accepts, then drops: every request fails, dials succeed
		}
	}()
	l := NewLiveness(nil)
	hc := &http.Client{Transport: l}
	for range 5 {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if o := l.Down(); o != nil {
		t.Errorf("a server that still accepts connections was declared down: %+v", o)
	}
}
