package validators

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Summary gathers, over a whole run or file set, the checks that could not
// be made offline, so that each is reported once with a count instead of
// once per element: a thousand EOBs bound to one VSAC value set make one
// line ("value set … cannot be checked: 3,729 times"), not 3,729 warnings.
// It is safe for concurrent use.
type Summary struct {
	mu  sync.Mutex
	by  map[string]*NotCheckedCount
	sum int
}

// NotCheckedCount is one thing that could not be checked offline.
type NotCheckedCount struct {
	// What is the canonical of the value set, code system or profile.
	What string `json:"what"`
	// Message is the first issue's message, which says why.
	Message string `json:"message"`
	// Count is how many checks needed it; Resources how many resources.
	Count     int `json:"count"`
	Resources int `json:"resources"`
}

// Absorb takes the not-checked issues out of one resource's issues,
// counting them, and returns the others (reusing the slice).
func (s *Summary) Absorb(issues []Issue) []Issue {
	out := issues[:0]
	var seen map[string]bool
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, is := range issues {
		if is.NotChecked == "" {
			out = append(out, is)
			continue
		}
		if s.by == nil {
			s.by = map[string]*NotCheckedCount{}
		}
		c := s.by[is.NotChecked]
		if c == nil {
			c = &NotCheckedCount{What: is.NotChecked, Message: is.Message}
			s.by[is.NotChecked] = c
		}
		c.Count++
		s.sum++
		if seen == nil {
			seen = map[string]bool{}
		}
		if !seen[is.NotChecked] {
			seen[is.NotChecked] = true
			c.Resources++
		}
	}
	return out
}

// Total is how many checks could not be made.
func (s *Summary) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum
}

// NotChecked lists what could not be checked, most often needed first.
func (s *Summary) NotChecked() []NotCheckedCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NotCheckedCount, 0, len(s.by))
	for _, c := range s.by {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b NotCheckedCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.What, b.What)
	})
	return out
}

// String says it in a few lines: "804 checks not made offline (3 value
// sets, profiles or code systems):" and one indented line for each.
func (s *Summary) String() string {
	list := s.NotChecked()
	if len(list) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d checks could not be made offline (%d value sets, code systems or profiles not available here):\n", s.Total(), len(list))
	for _, c := range list {
		fmt.Fprintf(&b, "  %d in %d resources: %s\n", c.Count, c.Resources, c.Message)
	}
	return b.String()
}
