package sqlstore

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// stageCache keeps the stages of the executions most recently locked, between
// transactions, for a database that one Store writes (Config.StageCache).
// ExecutionLock then reads the execution's row and takes its stages from
// here, rather than reading and scanning every stage again at each step of
// the execution; a profile of the engine on SQLite put a tenth of all CPU
// in that read.
//
// What keeps it true:
//
//   - Every transaction that writes an execution's stages takes the
//     execution's entry first, while it holds the database's one write
//     connection (SQLite's): the entry is then empty, so no transaction
//     that follows finds stages there until the writer puts back what it
//     committed. A writer puts back only after its commit, and only if no
//     transaction took the entry since it did (the entry's token); else
//     the entry stays empty and the next lock reads the database.
//   - A transaction that locked the execution knows its stages exactly:
//     those it took or read, and its own writes to them (txStages). One
//     that wrote stages it had not locked, or had rolled back, puts back
//     nothing.
//   - Another connection's commit (the sqlite3 shell on a file the Store
//     has locked, say) changes the database's data version
//     (Config.DataVersion), which the first lock of each transaction
//     checks: a change empties the cache.
//
// Callers never see the cached rows: a lock hands out copies, and a
// transaction keeps copies of what it writes.
type stageCache struct {
	mu       sync.Mutex
	size     int // most entries
	maxBytes int // most bytes of stage rows, roughly (rowBytes)
	bytes    int
	entries  map[string]*list.Element // of *cacheEntry; lru's elements
	lru      list.List                // most recently used first
	tok      uint64                   // the last token handed out
	version  int64                    // the data version last seen
	checked  bool                     // version has been read
	// verify compares every hit with the database (Config.VerifyStageCache).
	verify bool
	hits   int64 // locks that found their stages here
}

type cacheEntry struct {
	id    string
	tok   uint64         // of the transaction that took the entry last
	rows  []*store.Stage // nil while taken
	bytes int            // rowBytes of rows
}

// stageCacheBytes bounds what the cache holds, besides its number of
// entries: executions with large contexts are not kept by the thousand.
const stageCacheBytes = 32 << 20

func newStageCache(size int, verify bool) *stageCache {
	return &stageCache{size: size, maxBytes: stageCacheBytes, entries: map[string]*list.Element{}, verify: verify}
}

// rowBytes is roughly what rows take in memory.
func rowBytes(rows []*store.Stage) int {
	n := 0
	for _, r := range rows {
		n += 256 + len(r.Context) + len(r.Outputs) + len(r.Tasks)
	}
	return n
}

// evict drops the least recently used entries while there are too many or
// they hold too much. c.mu is held.
func (c *stageCache) evict() {
	for c.lru.Len() > c.size || c.bytes > c.maxBytes {
		old := c.lru.Back()
		e := old.Value.(*cacheEntry)
		c.lru.Remove(old)
		delete(c.entries, e.id)
		c.bytes -= e.bytes
	}
}

// take empties the entry of execution id and returns what it held (nil
// when nothing) and the token that may put it back.
func (c *stageCache) take(id string) ([]*store.Stage, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tok++
	el, ok := c.entries[id]
	if !ok {
		el = c.lru.PushFront(&cacheEntry{id: id})
		c.entries[id] = el
		c.evict()
	}
	c.lru.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	rows := e.rows
	c.bytes -= e.bytes
	e.rows, e.tok, e.bytes = nil, c.tok, 0
	return rows, c.tok
}

// put fills the entry of execution id with rows, unless a transaction
// took it after the one that holds tok.
func (c *stageCache) put(id string, tok uint64, rows []*store.Stage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok {
		if e := el.Value.(*cacheEntry); e.tok == tok && e.rows == nil {
			e.rows, e.bytes = rows, rowBytes(rows)
			c.bytes += e.bytes
			c.evict()
		}
	}
}

// drop removes the entry of execution id, if there is one. A put for it
// that was waiting then finds nothing to fill.
func (c *stageCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok {
		c.bytes -= el.Value.(*cacheEntry).bytes
		c.lru.Remove(el)
		delete(c.entries, id)
	}
}

func (c *stageCache) hit() {
	c.mu.Lock()
	c.hits++
	c.mu.Unlock()
}

// StageCacheHits returns how many locks have found their execution's
// stages in the stage cache (Config.StageCache); zero without one.
func (s *Store) StageCacheHits() int64 {
	if s.stages == nil {
		return 0
	}
	s.stages.mu.Lock()
	defer s.stages.mu.Unlock()
	return s.stages.hits
}

// clear empties the cache.
func (c *stageCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.lru.Init()
	c.bytes = 0
}

// seen notes the database's data version, and empties the cache when
// another connection has committed since it was last seen.
func (c *stageCache) seen(version int64) {
	c.mu.Lock()
	changed := c.checked && version != c.version
	c.version, c.checked = version, true
	c.mu.Unlock()
	if changed {
		c.clear()
	}
}

// txStages is one transaction's part in the cache: the executions whose
// entries it took, and what it knows of their stages.
type txStages struct {
	c       *stageCache
	checked bool // the data version has been checked in this transaction
	views   map[string]*txView
}

type txView struct {
	tok  uint64
	rows []*store.Stage // nil: not known (written without a lock)
}

// committed puts back what the transaction knows of each execution it
// took. Called once the transaction has committed.
func (ts *txStages) committed() {
	if ts == nil {
		return
	}
	for id, v := range ts.views {
		if v.rows != nil {
			ts.c.put(id, v.tok, v.rows)
		}
	}
}

// ForgetStages implements store.StageForgetter; without a stage cache it
// does nothing.
func (t *tx) ForgetStages(id string) { t.forget(id) }

// cached runs fn, which writes stages, in q's transaction; outside one,
// with a stage cache, in a transaction of its own, since a write must
// take its execution's entry while it holds the write connection. Without
// a cache it runs fn on q.
func (q *querier) cached(ctx context.Context, fn func(q *querier) error) error {
	if q.stages == nil || q.pool == nil {
		return fn(q)
	}
	return q.atomic(ctx, false, fn)
}

// lockedStages returns the stages of execution id, which q's transaction
// has just locked: from the cache, or else from read. Without a cache it
// is read.
func (q *querier) lockedStages(ctx context.Context, id string, read func() ([]*store.Stage, error)) ([]*store.Stage, error) {
	ts := q.txs
	if ts == nil {
		return read()
	}
	if !ts.checked {
		var v int64
		if err := q.queryRow(ctx, q.d.dataVersion).Scan(&v); err != nil {
			return nil, fmt.Errorf("data version: %w", err)
		}
		ts.c.seen(v)
		ts.checked = true
	}
	rows, tok := ts.c.take(id)
	if rows != nil {
		ts.c.hit()
	}
	if rows == nil || ts.c.verify {
		stored, err := read()
		if err != nil {
			return nil, err
		}
		if rows != nil {
			if err := sameStages(rows, stored); err != nil {
				return nil, fmt.Errorf("stage cache of execution %s: %w", id, err)
			}
		}
		ts.views[id] = &txView{tok: tok, rows: copyStages(stored)}
		return stored, nil
	}
	ts.views[id] = &txView{tok: tok, rows: rows}
	return copyStages(rows), nil
}

// wroteStage notes that q's transaction wrote stage s (inserted when
// inserted is set), as the database now holds it.
func (q *querier) wroteStage(s *store.Stage, inserted bool) {
	ts := q.txs
	if ts == nil {
		return
	}
	v := ts.views[s.ExecutionID]
	if v == nil {
		_, tok := ts.c.take(s.ExecutionID)
		ts.views[s.ExecutionID] = &txView{tok: tok}
		return
	}
	if v.rows == nil {
		return
	}
	i := slices.IndexFunc(v.rows, func(r *store.Stage) bool { return r.ID == s.ID })
	switch {
	case inserted:
		row := storedStage(s)
		row.Context, row.Outputs, row.Tasks = cloneJSON(s.Context), cloneJSON(s.Outputs), cloneJSON(s.Tasks)
		at, _ := slices.BinarySearchFunc(v.rows, row.Seq, func(r *store.Stage, seq int) int { return r.Seq - seq })
		v.rows = slices.Insert(v.rows, at, row)
	case i < 0:
		v.rows = nil // cannot happen: the update found the stage
	default:
		// StageUpdate writes only what a run changes.
		row := *v.rows[i]
		row.Status, row.Context, row.Outputs, row.Tasks = s.Status, cloneJSON(s.Context), cloneJSON(s.Outputs), cloneJSON(s.Tasks)
		row.StartTime, row.EndTime, row.UpdatedAt = copyTime(s.StartTime), copyTime(s.EndTime), s.UpdatedAt
		v.rows[i] = &row
	}
}

// created notes that q's transaction inserted execution id with stages,
// which it puts in the cache once it commits.
func (q *querier) created(id string, stages []*store.Stage) {
	ts := q.txs
	if ts == nil {
		return
	}
	rows := copyStages(stages)
	for _, r := range rows {
		r.Context, r.Outputs, r.Tasks = cloneJSON(r.Context), cloneJSON(r.Outputs), cloneJSON(r.Tasks)
	}
	slices.SortStableFunc(rows, func(a, b *store.Stage) int { return a.Seq - b.Seq })
	_, tok := ts.c.take(id)
	ts.views[id] = &txView{tok: tok, rows: rows}
}

// forget takes the executions ids out of the cache and keeps q's
// transaction from putting them back: it deleted them, or nothing will
// lock them soon (store.StageForgetter). Their entries go altogether, so
// that they take no place in the LRU from executions that run.
func (q *querier) forget(ids ...string) {
	ts := q.txs
	if ts == nil {
		return
	}
	for _, id := range ids {
		ts.c.drop(id)
		ts.views[id] = &txView{} // a later write in the transaction puts nothing back either
	}
}

// storedStage returns a copy of s as a read of the database returns it.
func storedStage(s *store.Stage) *store.Stage {
	row := *s
	if len(row.RequisiteStageRefIDs) == 0 {
		row.RequisiteStageRefIDs = nil
	} else {
		row.RequisiteStageRefIDs = slices.Clone(row.RequisiteStageRefIDs)
	}
	row.Context, row.Outputs, row.Tasks = nilIfEmpty(row.Context), nilIfEmpty(row.Outputs), nilIfEmpty(row.Tasks)
	row.StartTime, row.EndTime = copyTime(row.StartTime), copyTime(row.EndTime)
	return &row
}

// copyStages copies rows deep enough that nothing a caller may change in
// place (the requisites, the times) is shared. The JSON columns are
// shared: the Store never changes them in place, and callers replace them.
func copyStages(rows []*store.Stage) []*store.Stage {
	out := make([]*store.Stage, len(rows))
	for i, r := range rows {
		out[i] = storedStage(r)
	}
	return out
}

// cloneJSON copies a JSON column a caller wrote, so that the cache shares
// no buffer the caller may reuse; empty reads back as nil.
func cloneJSON(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	return bytes.Clone(raw)
}

func nilIfEmpty(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	return raw
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// sameStages reports how cached differs from stored, the same stages read
// from the database.
func sameStages(cached, stored []*store.Stage) error {
	if len(cached) != len(stored) {
		return fmt.Errorf("%d stages cached, %d stored", len(cached), len(stored))
	}
	for i, c := range cached {
		s := stored[i]
		for _, f := range []struct {
			name           string
			same           bool
			cached, stored any
		}{
			{"id", c.ID == s.ID, c.ID, s.ID},
			{"execution", c.ExecutionID == s.ExecutionID, c.ExecutionID, s.ExecutionID},
			{"seq", c.Seq == s.Seq, c.Seq, s.Seq},
			{"refId", c.RefID == s.RefID, c.RefID, s.RefID},
			{"name", c.Name == s.Name, c.Name, s.Name},
			{"type", c.Type == s.Type, c.Type, s.Type},
			{"requisites", slices.Equal(c.RequisiteStageRefIDs, s.RequisiteStageRefIDs), c.RequisiteStageRefIDs, s.RequisiteStageRefIDs},
			{"status", c.Status == s.Status, c.Status, s.Status},
			{"context", bytes.Equal(c.Context, s.Context), string(c.Context), string(s.Context)},
			{"outputs", bytes.Equal(c.Outputs, s.Outputs), string(c.Outputs), string(s.Outputs)},
			{"tasks", bytes.Equal(c.Tasks, s.Tasks), string(c.Tasks), string(s.Tasks)},
			{"start time", sameTime(c.StartTime, s.StartTime), c.StartTime, s.StartTime},
			{"end time", sameTime(c.EndTime, s.EndTime), c.EndTime, s.EndTime},
			{"updated", c.UpdatedAt.Equal(s.UpdatedAt), c.UpdatedAt, s.UpdatedAt},
		} {
			if !f.same {
				return fmt.Errorf("stage %s: %s cached %v, stored %v", s.ID, f.name, f.cached, f.stored)
			}
		}
	}
	return nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
