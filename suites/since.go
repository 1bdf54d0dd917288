package suites

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// minGap is the least distance between two lastUpdated values that a
// window boundary is put between. A whole second both ways keeps the
// boundary strictly between them for a server that reads _since or _until
// at second precision.
const minGap = 2 * time.Second

// boundary picks a time strictly between two distinct lastUpdated values
// of the full export, as near the middle of them as there is a gap of
// minGap: no resource of the full export was updated at that very time, so
// the inclusive and the exclusive reading of a boundary select the same
// resources, and both sides hold data. ok is false when the data has no
// such gap (all updated at once, say).
func boundary(x *framework.Export) (t time.Time, ok bool) {
	var ts []time.Time
	for _, r := range x.Resources {
		if !r.LastUpdated.IsZero() {
			ts = append(ts, r.LastUpdated)
		}
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	ts = slices.CompactFunc(ts, func(a, b time.Time) bool { return a.Equal(b) })
	mid := len(ts) / 2
	// Search outwards from the median for the nearest wide enough gap.
	for d := 0; d < len(ts); d++ {
		for _, i := range []int{mid - d, mid + d} {
			if i < 1 || i >= len(ts) {
				continue
			}
			lo, hi := ts[i-1], ts[i]
			at := lo.Add(time.Second).Truncate(time.Second)
			if hi.Sub(lo) >= minGap && at.After(lo) && at.Before(hi) {
				return at.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// noBoundary is the skip reason when the data has no gap to put a window
// boundary in.
const noBoundary = "the full Group export has no two lastUpdated values at least 2 s apart, so no boundary lies strictly between two of them: " +
	"a window could not tell an inclusive reading from an exclusive one, nor select a part of the data (a data set without distinct timestamps)"

// references lists the resources an export's lines reference (Type/id),
// for the Bulk Data allowance of referenced resources. References are read
// as they are written, "reference":"[base/]Type/id[/_history/n]".
func references(x *framework.Export, keep func(framework.Resource) bool) (map[string]bool, error) {
	out := map[string]bool{}
	key := []byte(`"reference"`)
	err := x.EachResource("", func(raw []byte) error {
		// Only the lines of resources keep accepts: look the line up by the
		// identity the index gave it.
		pl := identity(raw)
		if r, ok := x.Resources[pl]; !ok || !keep(r) {
			return nil
		}
		for rest := raw; ; {
			i := bytes.Index(rest, key)
			if i < 0 {
				return nil
			}
			rest = bytes.TrimLeft(rest[i+len(key):], " \t\r\n")
			if len(rest) == 0 || rest[0] != ':' {
				continue
			}
			rest = bytes.TrimLeft(rest[1:], " \t\r\n")
			if len(rest) == 0 || rest[0] != '"' {
				continue
			}
			end := bytes.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil
			}
			if k, ok := referenceKey(string(rest[1 : 1+end])); ok {
				out[k] = true
			}
			rest = rest[1+end:]
		}
	})
	return out, err
}

// identity reads the Type/id of a line without decoding the rest of it.
func identity(raw []byte) string {
	var h struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if jsonUnmarshal(raw, &h) != nil {
		return ""
	}
	return framework.Key(h.ResourceType, h.ID)
}

// referenceKey turns a literal reference into Type/id.
func referenceKey(ref string) (string, bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return "", false
	}
	typ, id := parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return "", false
	}
	return framework.Key(typ, id), true
}

// addedAfter reports, for each member, whether the Group shows they may have
// joined it after t: their member.period starts on or after t's day (a
// date has no time, so the day of t counts), or they give no start and the
// Group itself changed after t. known is false for members of the second
// kind: the Group does not say when they joined.
func addedAfter(g *framework.Group, t time.Time) (added map[string]bool, unknown map[string]bool) {
	added, unknown = map[string]bool{}, map[string]bool{}
	day := t.UTC().Format(time.DateOnly)
	for _, m := range g.Members {
		start, ok := g.Starts[m]
		switch {
		case ok && len(start) >= len(time.DateOnly):
			added[m] = start[:len(time.DateOnly)] >= day
		case g.LastUpdated.IsZero() || g.LastUpdated.After(t):
			added[m], unknown[m] = true, true
		}
	}
	return added, unknown
}

func registerSince(e *framework.Env) {
	Describe("Since and until", func() {
		// Bulk Data, _since: "Resources will be included in the response if
		// their state has changed after the supplied time (e.g., if
		// Resource.meta.lastUpdated is later than the supplied _since
		// time)". Everything changed after _since must be there: every
		// resource of the full export updated after it. Older resources
		// are allowed where Bulk Data allows them: "the server MAY return
		// additional resources modified prior to the supplied time if the
		// resources belong to the patient compartment of a patient added
		// to the Group after the supplied time", and "MAY return resources
		// that are referenced by the resources being returned regardless
		// of when the referenced resources were last updated", and those
		// with no lastUpdated ("the server MAY include these resources in
		// a response irrespective of the _since value"). When a member
		// joined is read from the Group (member.period.start; with none,
		// the Group's own lastUpdated bounds it). _since lies strictly
		// between two lastUpdated values, so "after" and "at or after" agree.
		It("exports with _since everything that changed since, and older data only where Bulk Data allows it", e.Req("PA-SINCE-01"), func(ctx SpecContext) {
			needCompartment(e)
			full := fullExport(ctx, e)
			since, ok := boundary(full)
			if !ok {
				Skip(noBoundary)
			}
			g, err := e.ReadGroup(ctx)
			if err != nil {
				framework.Block(prereqGroup, err.Error())
			}
			x := export(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
				param("_since", "valueInstant", since.Format(time.RFC3339)))})
			at := since.Format(time.RFC3339)
			want := keysOf(full, func(r framework.Resource) bool { return r.LastUpdated.After(since) })
			if d := framework.Missing(want, keysOf(x, func(framework.Resource) bool { return true })); !d.Empty() {
				framework.Failf("resources that the full Group export shows changed after _since=%s are missing from the _since export: %s", at, d)
			}
			refs, err := references(x, func(r framework.Resource) bool { return r.LastUpdated.After(since) })
			if err != nil {
				framework.Failf("reading the _since export: %v", err)
			}
			added, unknown := addedAfter(g, since)
			var wrong, unverified []string
			for k, r := range x.Resources {
				if r.LastUpdated.IsZero() || r.LastUpdated.After(since) || refs[k] {
					continue
				}
				joined, guess := false, false
				for _, p := range r.Patients {
					if added[p] {
						joined = true
						guess = guess || unknown[p]
					}
				}
				switch {
				case !joined:
					wrong = append(wrong, k)
				case guess:
					unverified = append(unverified, k)
				}
			}
			if d := framework.Offending(framework.KeySet(wrong...)); !d.Empty() {
				framework.Failf("the _since=%s export holds resources last updated before it that belong to no member who joined the Group since and that no newer exported resource references: %s", at, d)
			}
			if len(unverified) > 0 {
				Skip(fmt.Sprintf("the _since=%s export holds %d older resources (e.g. %s) of members whose joining date the Group does not give: Bulk Data allows them for members added after _since, which cannot be checked",
					at, len(unverified), strings.Join(first(slices.Sorted(slices.Values(unverified)), 3), ", ")))
			}
		})

		// ATR, _until: "Resources updated before the specified time will be
		// included in the response". Both ways: nothing updated after it,
		// and everything of the full export updated before it. A resource
		// missing from the _until export may have changed since the full
		// export (a download updates the Patient): it is read again, and
		// excused when its lastUpdated is now past _until. ATR adds _until
		// to the operation; a server that refuses it with an OperationOutcome
		// (Bulk Data's answer to a parameter it does not support) is not
		// failed, and the spec skips.
		It("exports with _until everything that changed before it, and nothing after", e.Req("PA-SINCE-02"), func(ctx SpecContext) {
			full := fullExport(ctx, e)
			until, ok := boundary(full)
			if !ok {
				Skip(noBoundary)
			}
			at := until.Format(time.RFC3339)
			x := exportOrRefusal(ctx, e, framework.ExportRequest{Params: params(e, edition.Snapshot,
				param("_until", "valueInstant", at))}, "a kick-off with _until="+at)
			after := keysOf(x, func(r framework.Resource) bool { return !r.LastUpdated.IsZero() && !r.LastUpdated.Before(until) })
			if d := framework.Offending(after); !d.Empty() {
				framework.Failf("the _until=%s export holds resources updated at or after it: %s", at, d)
			}
			want := keysOf(full, func(r framework.Resource) bool { return !r.LastUpdated.IsZero() && r.LastUpdated.Before(until) })
			d := framework.Missing(want, keysOf(x, func(framework.Resource) bool { return true }))
			if d.Empty() {
				return
			}
			still := changedSince(ctx, e, full, want, x, until)
			if len(still) > 0 {
				framework.Failf("resources that the full Group export shows updated before _until=%s are missing from the _until export and were not updated since: %s (of %s)",
					at, framework.Offending(framework.KeySet(still...)), d)
			}
		})
	})
}

// maxReread bounds the resources a spec reads again to see whether they
// changed: a handful changing between two exports is life on a live
// server; more missing than that is the export's fault.
const maxReread = 20

// changedSince returns the resources of want missing from x that did not
// change after t since the full export: read again (GET [base]/Type/id),
// they still show a lastUpdated before t. A resource that cannot be read
// again is counted as not changed. Past maxReread missing resources, the
// rest are counted without reading.
func changedSince(ctx context.Context, e *framework.Env, full *framework.Export, want map[string]bool, x *framework.Export, t time.Time) []string {
	var missing []string
	for k := range want {
		if _, ok := x.Resources[k]; !ok {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	var still []string
	for i, k := range missing {
		if i >= maxReread {
			still = append(still, missing[i:]...)
			break
		}
		typ, id, _ := strings.Cut(k, "/")
		resp, err := e.Client().Do(ctx, framework.Get(typ+"/"+url.PathEscape(id)))
		if err == nil && resp.StatusCode == http.StatusOK {
			var m struct {
				Meta struct {
					LastUpdated time.Time `json:"lastUpdated"`
				} `json:"meta"`
			}
			if jsonUnmarshal(resp.Body, &m) == nil && !m.Meta.LastUpdated.Before(t) && m.Meta.LastUpdated.After(full.Resources[k].LastUpdated) {
				continue
			}
		}
		still = append(still, k)
	}
	return still
}
