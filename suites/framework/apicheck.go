package framework

import "slices"

// maxAPIMismatches bounds the distinct mismatches a run keeps: a target
// wrong in the same way on every exchange repeats one message, counted.
const maxAPIMismatches = 200

// apiMismatches accumulates, over the whole run, the mismatches with the
// OpenAPI description that Check found in every exchange of every spec, so
// that one spec can judge them all whatever order the specs ran in. Env.mu
// guards it.
type apiMismatches struct {
	// exchanges counts every exchange recorded, checked or not.
	exchanges int
	order     []string
	counts    map[string]int
	dropped   int
}

func (a *apiMismatches) add(ms []string) {
	a.exchanges++
	for _, m := range ms {
		if a.counts == nil {
			a.counts = map[string]int{}
		}
		if _, seen := a.counts[m]; !seen && len(a.order) >= maxAPIMismatches {
			a.dropped++
			continue
		}
		if a.counts[m] == 0 {
			a.order = append(a.order, m)
		}
		a.counts[m]++
	}
}

// APIMismatch is one distinct mismatch with the OpenAPI description and how
// many exchanges showed it.
type APIMismatch struct {
	Message string
	Count   int
}

// APIMismatches returns the distinct mismatches with the OpenAPI description
// seen so far in the run, in the order first seen, how many more were left
// out past the bound, and how many exchanges the run recorded.
func (e *Env) APIMismatches() (list []APIMismatch, dropped, exchanges int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range slices.Clone(e.api.order) {
		list = append(list, APIMismatch{Message: m, Count: e.api.counts[m]})
	}
	return list, e.api.dropped, e.api.exchanges
}
