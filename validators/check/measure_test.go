package check_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pdex-conform/pdex-conform/validators/check"
)

func TestMeasure(t *testing.T) {
	var lines [][]byte
	for range 40 {
		lines = append(lines, []byte(`{"resourceType":"Patient","id":"p1","gender":"female"}`), []byte(`{"resourceType":"Patient","id":"p2","gender":"robot"}`))
	}
	made := 0
	m, err := check.Measure(context.Background(), lines, func() (*check.Checker, error) {
		made++
		return check.New(nil, check.Options{}), nil
	}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if made != 1 || m.Lines != 80 || m.Workers != 2 || m.Errors != 40 {
		t.Errorf("checkers made %d, measurement %+v: want one checker, 80 lines on 2 workers, 40 errors", made, m)
	}
	if m.Decode <= 0 || m.Parse <= 0 || m.Validate <= 0 || m.Startup > m.Validate {
		t.Errorf("times %+v", m)
	}
	if r := m.Rate(m.Validate); r <= 0 {
		t.Errorf("rate %v", r)
	}
	_, err = check.Measure(context.Background(), lines, func() (*check.Checker, error) { return nil, errors.New("no packages") }, 1)
	if err == nil {
		t.Error("a checker that cannot be made is not reported")
	}
}
