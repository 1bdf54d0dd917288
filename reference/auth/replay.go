package auth

import (
	"sync"
	"time"
)

// replayCache remembers, per client, the jti of every accepted assertion
// until that assertion could no longer be accepted anyway (its exp plus the
// clock skew). Only assertions that passed signature verification reach it,
// so the number of clients is bounded by the registry, and perClient bounds
// each client's share.
type replayCache struct {
	perClient int

	mu        sync.Mutex
	clients   map[string]map[string]time.Time // client → jti → forget after
	lastSweep time.Time
}

// sweepEvery is how often stale entries of all clients are dropped, so a
// client that stops calling does not hold memory until it calls again.
const sweepEvery = time.Minute

// result of replayCache.add
type replayResult int

const (
	replayFresh replayResult = iota
	replaySeen
	replayFull
)

// add records jti for client unless it was seen and is still remembered.
// It fails closed (replayFull) when a client has perClient live entries:
// forgetting one early would reopen the window for a replay.
func (c *replayCache) add(client, jti string, now, until time.Time) replayResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastSweep) >= sweepEvery {
		for id, seen := range c.clients {
			purge(seen, now)
			if len(seen) == 0 {
				delete(c.clients, id)
			}
		}
		c.lastSweep = now
	}
	seen := c.clients[client]
	if seen == nil {
		seen = make(map[string]time.Time)
		c.clients[client] = seen
	}
	if forget, ok := seen[jti]; ok && now.Before(forget) {
		return replaySeen
	}
	if len(seen) >= c.perClient {
		purge(seen, now)
		if len(seen) >= c.perClient {
			return replayFull
		}
	}
	seen[jti] = until
	return replayFresh
}

func purge(seen map[string]time.Time, now time.Time) {
	for jti, forget := range seen {
		if !now.Before(forget) {
			delete(seen, jti)
		}
	}
}
