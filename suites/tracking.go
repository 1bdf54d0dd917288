package suites

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/pdex-conform/pdex-conform/edition"
	"github.com/pdex-conform/pdex-conform/suites/framework"
)

// Download tracking on Group.member (2.1.0; E21 "Attribution List",
// "_type", "_typeFilter"; davinci-epdx@2.1.0 ProfilePDexProviderGroup.fsh):
// the export SHALL record, on the Group.member entry of every member whose
// data went out, lastTransmitted (the export transaction's time, or _until
// if earlier), lastResources (_type) and lastFilters (_typeFilter). Readings
// (README, "Editions"): "the Date/Time of the Export Transaction" is any time
// from the kick-off to the completion (the manifest's transactionTime is
// one); "the content of the _type parameter" is the string as sent, so the
// specs send an unsorted list; download and delta SHALL record (the text
// ties download to tracking, and delta stores data too); whether a snapshot
// records is open (EDITIONS.md §9.3) and is not judged. 2.2.0 deleted the
// extensions (FHIR-55987): an export there should change none of them
// (inferred, a SHOULD).

// The values the tracking specs send.
const (
	trackTypesFirst  = "Patient"
	trackTypes       = "Observation,Condition,Patient" // unsorted: recorded as sent
	trackTypeFilter  = "Observation?category=laboratory"
	trackDeltaTypes  = "Condition,Patient"
	trackUntilBefore = 24 * time.Hour
)

func registerTracking(e *framework.Env) {
	if e.Applies("PA-TRACK-01") {
		Describe("Download tracking", func() {
			It("records a provider-download on Group.member with _type and _typeFilter as sent, replacing earlier values, and on no other member", e.Req("PA-TRACK-01"), func(ctx SpecContext) {
				members := subset(ctx, e)
				if len(members) < 2 {
					Skip("two members are needed (one downloaded, one not): set members in the configuration")
				}
				got, other := members[0], members[1]
				before := trackedOn(ctx, e)
				// Two downloads: what the second sends must replace what the
				// first recorded, not sit beside it.
				export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Download, framework.PatientParams(got),
					param("_type", "valueString", trackTypesFirst))})
				x := export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Download, framework.PatientParams(got),
					param("_type", "valueString", trackTypes), param("_typeFilter", "valueString", trackTypeFilter))})
				after := trackedOn(ctx, e)
				m, ok := after[got]
				if !ok {
					Fail(fmt.Sprintf("After the download, Group/%s no longer lists Patient/%s.", e.Config.Group, got))
				}
				expectTransmitted(e, x, got, m, x.Started, x.Completed, "a provider-download")
				expectRecorded(e, got, m, edition.ExtLastTypes, trackTypes, "_type")
				expectRecorded(e, got, m, edition.ExtLastTypeFilter, trackTypeFilter, "_typeFilter")
				if b, a := before[other], after[other]; !sameTracking(b, a) {
					Fail(fmt.Sprintf("Patient/%s was not exported, but its Group.member tracking changed from %s to %s.", other, b.describe(), a.describe()))
				}
			})

			It("records _until as lastTransmitted when it is earlier than the export", e.Req("PA-TRACK-02"), func(ctx SpecContext) {
				got := subset(ctx, e)[0]
				until := time.Now().Add(-trackUntilBefore).UTC().Truncate(time.Second)
				x := export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Download, framework.PatientParams(got),
					param("_type", "valueString", trackTypesFirst), param("_until", "valueInstant", until.Format(time.RFC3339)))})
				m := trackedOn(ctx, e)[got]
				expectTransmitted(e, x, got, m, until, until, "a provider-download with _until="+until.Format(time.RFC3339))
			})

			It("records a provider-delta on Group.member", e.Req("PA-TRACK-03"), func(ctx SpecContext) {
				got := subset(ctx, e)[0]
				x := export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Delta, framework.PatientParams(got),
					param("_since", "valueInstant", sinceLongAgo), param("_type", "valueString", trackDeltaTypes))})
				m := trackedOn(ctx, e)[got]
				expectTransmitted(e, x, got, m, x.Started, x.Completed, "a provider-delta")
				expectRecorded(e, got, m, edition.ExtLastTypes, trackDeltaTypes, "_type")
			})
		})
	}
	if e.Applies("PA-TRACK-22") {
		Describe("Download tracking", func() {
			It("changes no tracking extension on Group.member, which the edition removed", e.Req("PA-TRACK-22"), func(ctx SpecContext) {
				got := subset(ctx, e)[0]
				before := trackedOn(ctx, e)[got]
				export(ctx, e, framework.ExportRequest{Params: kindParams(e, edition.Download, framework.PatientParams(got),
					param("_type", "valueString", trackTypes), param("_typeFilter", "valueString", trackTypeFilter))})
				after := trackedOn(ctx, e)[got]
				if !sameTracking(before, after) {
					Fail(fmt.Sprintf("A provider-download changed Patient/%s's Group.member from %s to %s: edition %s removed these extensions (FHIR-55987) and keeps an audit trail instead (%s).",
						got, before.describe(), after.describe(), e.Edition.Name, e.Edition.TrackingElsewhere()))
				}
			})
		})
	}
}

// tracking is what a Group.member entry records of downloads.
type tracking map[string][]string // extension URL -> values

var trackingURLs = []string{edition.ExtLastTransmission, edition.ExtLastTypes, edition.ExtLastTypeFilter}

// trackedOn reads the Group and the tracking extensions of each member.
func trackedOn(ctx context.Context, e *framework.Env) map[string]tracking {
	g, _ := readGroup(ctx, e)
	out := map[string]tracking{}
	for id, m := range g.byMember() {
		t := tracking{}
		for _, u := range trackingURLs {
			if v := m.values(u); v != nil {
				t[u] = v
			}
		}
		out[id] = t
	}
	return out
}

func sameTracking(a, b tracking) bool {
	for _, u := range trackingURLs {
		if !slices.Equal(a[u], b[u]) {
			return false
		}
	}
	return true
}

func (t tracking) describe() string {
	var parts []string
	for _, u := range trackingURLs {
		if v := t[u]; v != nil {
			parts = append(parts, shortName(u)+"="+strings.Join(v, "|"))
		}
	}
	if parts == nil {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}

// expectTransmitted fails the spec unless the member's entry holds exactly
// one lastTransmitted, between from and to (give or take clockSkew). When
// there is none, it says where the server did record the download, if on
// the member's Patient (2.0.0's place).
func expectTransmitted(e *framework.Env, x *framework.Export, id string, m tracking, from, to time.Time, what string) {
	vs := m[edition.ExtLastTransmission]
	switch {
	case len(vs) == 0:
		where := ""
		if onPatient(x, id, from, to) {
			where = " It is on the Patient instead, where edition 2.0.0 records it."
		}
		Fail(fmt.Sprintf("After %s export of Patient/%s, its Group.member carries no %s: edition %s records the last transmission there.%s (Elsewhere: %s.)",
			what, id, shortName(edition.ExtLastTransmission), e.Edition.Name, where, e.Edition.TrackingElsewhere()))
	case len(vs) > 1:
		Fail(fmt.Sprintf("After %s export of Patient/%s, its Group.member carries %d %s values (%s): each export must replace the earlier one.",
			what, id, len(vs), shortName(edition.ExtLastTransmission), strings.Join(vs, ", ")))
	}
	at, err := time.Parse(time.RFC3339Nano, vs[0])
	if err != nil {
		Fail(fmt.Sprintf("Patient/%s's lastTransmitted %q is not a dateTime with a time.", id, vs[0]))
	}
	if at.Before(from.Add(-clockSkew)) || at.After(to.Add(clockSkew)) {
		Fail(fmt.Sprintf("After %s export of Patient/%s, lastTransmitted is %s; it must be the export's time (%s to %s) or _until when earlier.",
			what, id, vs[0], from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)))
	}
}

// expectRecorded fails the spec unless the member's entry holds exactly one
// value of the extension, the parameter as sent.
func expectRecorded(e *framework.Env, id string, m tracking, url, want, param string) {
	vs := m[url]
	if len(vs) != 1 || vs[0] != want {
		Fail(fmt.Sprintf("After an export of Patient/%s with %s=%s, its Group.member carries %s %q; edition %s records %s there as sent, once.",
			id, param, want, shortName(url), vs, e.Edition.Name, param))
	}
}

// onPatient reports whether the export's Patient of a member carries a
// last-transmission value from the time of the export.
func onPatient(x *framework.Export, id string, from, to time.Time) bool {
	found := false
	x.EachResource("Patient", func(raw []byte) error {
		var p struct {
			ID        string `json:"id"`
			Extension []struct {
				URL           string `json:"url"`
				ValueDateTime string `json:"valueDateTime"`
			} `json:"extension"`
		}
		if json.Unmarshal(raw, &p) != nil || p.ID != id {
			return nil
		}
		for _, ext := range p.Extension {
			at, err := time.Parse(time.RFC3339Nano, ext.ValueDateTime)
			if ext.URL == edition.ExtLastTransmission && err == nil && !at.Before(from.Add(-clockSkew)) && !at.After(to.Add(clockSkew)) {
				found = true
			}
		}
		return nil
	})
	return found
}
