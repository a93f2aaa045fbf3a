package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// stmtCacheSize is how many prepared statements each connection keeps. The
// store and River together run a few dozen distinct texts in steady state;
// the rest of the room absorbs texts that vary with their arguments (IN
// lists, the store's list filters) without pushing the steady ones out.
const stmtCacheSize = 256

// baseConn is what cachingConn needs of the connection it wraps, and what it
// forwards: every optional interface modernc.org/sqlite v1.62's connection
// implements that database/sql uses. (It implements no NamedValueChecker.)
type baseConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// baseStmt is what the cache needs of a prepared statement.
type baseStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachingConnector opens connections through Connector and wraps each in a
// cachingConn holding up to size statements.
type cachingConnector struct {
	driver.Connector
	size int
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	base, ok := dc.(baseConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("statement cache: driver connection %T lacks an interface it must forward", dc)
	}
	return newCachingConn(base, c.size), nil
}

// cachingConn is a driver.Conn with a cache of prepared statements. Methods
// other than QueryContext, ExecContext and Close are the wrapped
// connection's.
//
// Every query database/sql runs without an explicit Prepare reaches the
// driver as a one-shot: modernc.org/sqlite parses and compiles the text with
// sqlite3_prepare_v2, runs it once and finalizes it. A CPU profile of the
// engine put about 45% of all CPU in that parsing
// (lib._sqlite3RunParser under (*conn).query → newStmtContext), for the
// store's own queries and for River's, which riversqlite runs through
// QueryContext/ExecContext on the *sql.DB and *sql.Tx the Store hands it.
//
// The cache cannot live in database/sql: the write pool has one
// connection, and (*sql.DB).PrepareContext inside a transaction waits for
// the connection the transaction holds. So it lives below database/sql, in
// the driver.Conn, one cache per connection, the read connections' too:
// cachingConn keeps a bounded LRU map from query text to a statement
// prepared on that connection, and runs QueryContext and ExecContext
// through it. A prepared statement survives schema changes: SQLite prepares
// it again by itself (sqlite3_prepare_v2) when the schema it was compiled
// against changes.
//
// Invariants:
//
//   - A cached statement runs for one caller at a time. While rows from it
//     are open it is busy, and the same text on the same connection (a
//     second query inside one transaction while the first's rows are open)
//     takes the uncached path rather than resetting the statement under the
//     open rows. Rows.Close makes it idle again.
//   - A statement leaves the cache only when idle or, if busy, when its rows
//     close: eviction of a busy statement removes it from the map at once
//     and closes it when its rows close.
//   - Texts that hold more than one statement (migrations, "PRAGMA …; …")
//     are never cached: modernc re-parses a script on every run anyway, so
//     an entry would only take room. A ';' in a comment is not a second
//     statement: River's hottest query, JobSetStateIfRunning, has one.
//   - Errors are the driver's own values, never wrapped, so translate's
//     errors.As(err, **sqlite.Error) sees them.
//
// No lock: database/sql never uses a driver.Conn from two goroutines at
// once. Its per-connection lock covers every call on the Conn and every
// Rows.Next and Rows.Close, and it closes a connection only after the rows
// that use it.
type cachingConn struct {
	baseConn
	size    int
	lru     *list.List // of *cachedStmt, most recently used first
	byQuery map[string]*list.Element
}

// cachedStmt is one entry of a cachingConn's cache.
type cachedStmt struct {
	query   string
	stmt    baseStmt
	busy    bool // rows from stmt are open
	evicted bool // out of the cache; close stmt when its rows close
}

func newCachingConn(base baseConn, size int) *cachingConn {
	return &cachingConn{baseConn: base, size: size, lru: list.New(), byQuery: map[string]*list.Element{}}
}

// Unwrap returns the wrapped connection, for modernc.org/sqlite's Limit and
// for anyone reaching the driver's connection through (*sql.Conn).Raw.
func (c *cachingConn) Unwrap() driver.Conn { return c.baseConn }

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	e, err := c.lookup(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return c.baseConn.QueryContext(ctx, query, args)
	}
	rows, err := e.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	e.busy = true
	return &cachedRows{Rows: rows, conn: c, entry: e}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, err := c.lookup(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return c.baseConn.ExecContext(ctx, query, args)
	}
	// The result's rows affected and last insert id are read before the
	// statement is reset, so reusing it does not change them.
	return e.stmt.ExecContext(ctx, args)
}

// lookup returns the idle cached statement for query, preparing and caching
// it on a miss, or nil if query must take the uncached path: its statement
// is busy, or the text may hold more than one statement.
//
// A failure to prepare is returned as it is, not retried uncached: the
// uncached path begins with the same sqlite3_prepare_v2 and would fail the
// same way, after waiting out busy_timeout a second time if the failure was
// a lock.
func (c *cachingConn) lookup(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.byQuery[query]; ok {
		e := el.Value.(*cachedStmt)
		if e.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return e, nil
	}
	if c.size <= 0 || multiStatement(query) {
		return nil, nil
	}
	ds, err := c.baseConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s, ok := ds.(baseStmt)
	if !ok {
		ds.Close()
		return nil, nil
	}
	e := &cachedStmt{query: query, stmt: s}
	c.byQuery[query] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		c.evict(c.lru.Back())
	}
	return e, nil
}

// evict takes el's statement out of the cache and closes it, or, if rows
// from it are open, leaves it to cachedRows.Close to close. An error closing
// it is dropped: it concerns no caller, only a statement done with.
func (c *cachingConn) evict(el *list.Element) {
	e := c.lru.Remove(el).(*cachedStmt)
	delete(c.byQuery, e.query)
	e.evicted = true
	if !e.busy {
		e.stmt.Close()
	}
}

// Close closes the cached statements, then the connection. database/sql
// closes a connection only once the rows that use it are closed, so every
// statement is idle here; a busy one would be left to its rows.
func (c *cachingConn) Close() error {
	var errs []error
	for el := c.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*cachedStmt)
		e.evicted = true
		if !e.busy {
			errs = append(errs, e.stmt.Close())
		}
	}
	c.lru.Init()
	clear(c.byQuery)
	return errors.Join(append(errs, c.baseConn.Close())...)
}

// multiStatement reports whether query holds more than one statement: SQL
// after the ';' that ends the first. A ';' in a string literal, a quoted
// identifier or a comment does not count; one inside a trigger body does,
// which costs such a text only the cache.
func multiStatement(query string) bool {
	ended := false // a ';' has ended the first statement
	for i := 0; i < len(query); i++ {
		// Find where the token at i ends, skipping white space and comments.
		var end string
		switch c := query[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			continue
		case strings.HasPrefix(query[i:], "--"):
			end = "\n"
		case strings.HasPrefix(query[i:], "/*"):
			end = "*/"
			i++
		case c == ';':
			ended = true
			continue
		case ended:
			return true
		case c == '\'' || c == '"' || c == '`':
			end = string(c)
		case c == '[':
			end = "]"
		default:
			continue
		}
		j := strings.Index(query[i+1:], end)
		if j < 0 {
			return false // runs to the end of the text
		}
		i += j + len(end)
	}
	return false
}

// cachedRows are the rows of a cached statement. Closing them makes the
// statement idle again. The optional column-type interfaces are forwarded,
// with database/sql's defaults where the wrapped rows lack one.
type cachedRows struct {
	driver.Rows
	conn  *cachingConn
	entry *cachedStmt // nil once closed
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	e := r.entry
	if e == nil {
		return err
	}
	r.entry = nil
	e.busy = false
	switch {
	case e.evicted:
		e.stmt.Close()
	case err != nil:
		// Not reset cleanly, perhaps: take no chances with the next run.
		r.conn.evict(r.conn.byQuery[e.query])
	}
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	if rr, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return rr.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(index int) (int64, bool) {
	if rr, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return rr.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if rr, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return rr.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if rr, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return rr.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	if rr, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return rr.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}
