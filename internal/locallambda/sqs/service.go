package sqs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	// Path is the SQLite database file that holds every queue and
	// message; required. It is created if missing.
	Path string
	// Region and AccountID are those of every queue ARN and URL. Defaults
	// "us-east-1" and "000000000000".
	Region    string
	AccountID string
	// Clock stamps messages and decides visibility. Default time.Now.
	Clock func() time.Time
	// Logger receives the service's events. Nil discards them.
	Logger *slog.Logger
}

// Service is the local SQS: queues and messages in one SQLite database,
// served over HTTP by Handler and to other packages by its methods. It is
// safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	db  *sql.DB

	stmts sync.Map   // query → *sql.Stmt, prepared on db
	txMu  sync.Mutex // one transaction at a time

	mu      sync.Mutex
	waiters map[string]chan struct{} // queue name → closed when it may have a message to receive
	closed  chan struct{}
}

const schema = `
CREATE TABLE IF NOT EXISTS queues (
	name       TEXT PRIMARY KEY,
	created    INTEGER NOT NULL,         -- Unix milliseconds
	modified   INTEGER NOT NULL,
	attributes TEXT NOT NULL,            -- JSON object: the settable attributes
	tags       TEXT NOT NULL DEFAULT '{}',
	purged     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT, -- the order of sending; FIFO SequenceNumber
	queue         TEXT NOT NULL,
	id            TEXT NOT NULL,
	body          TEXT NOT NULL,
	attributes    TEXT NOT NULL DEFAULT '', -- JSON: message attributes
	system        TEXT NOT NULL DEFAULT '', -- JSON: message system attributes (AWSTraceHeader, DeadLetterQueueSourceArn)
	md5_attrs     TEXT NOT NULL DEFAULT '',
	sender        TEXT NOT NULL DEFAULT '',
	sent          INTEGER NOT NULL,          -- Unix milliseconds
	visible       INTEGER NOT NULL,          -- receivable from (Unix milliseconds)
	receives      INTEGER NOT NULL DEFAULT 0,
	first_receive INTEGER NOT NULL DEFAULT 0,
	receipt       TEXT NOT NULL DEFAULT '',  -- the token of the latest receipt handle
	group_id      TEXT NOT NULL DEFAULT '',
	dedup_id      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, visible, seq);
CREATE TABLE IF NOT EXISTS dedup (
	queue   TEXT NOT NULL,
	key     TEXT NOT NULL,
	id      TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	PRIMARY KEY (queue, key)
);
`

// Open opens (or creates) the database at cfg.Path.
func Open(cfg Config) (*Service, error) {
	if cfg.Path == "" {
		return nil, errors.New("local SQS: Config.Path is required")
	}
	cfg.Region = cmp.Or(cfg.Region, "us-east-1")
	cfg.AccountID = cmp.Or(cfg.AccountID, "000000000000")
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// WAL with synchronous=FULL: a transaction is on the disk when it
	// commits, so what a call acknowledged survives the process dying and
	// a power cut, as a message SQS accepted does.
	db, err := sql.Open("sqlite", "file:"+cfg.Path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)")
	if err != nil {
		return nil, fmt.Errorf("open local SQS database %s: %w", cfg.Path, err)
	}
	// Two connections: transactions take turns (txMu), as SQLite takes
	// one writer at a time anyway; the second serves the reads outside
	// them and prepares statements while a transaction holds the first.
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if _, err := db.Exec(schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create the local SQS schema in %s: %w", cfg.Path, err)
	}
	return &Service{cfg: cfg, log: log, db: db, waiters: map[string]chan struct{}{}, closed: make(chan struct{})}, nil
}

// EndLongPolls ends every long poll now and every later one at once
// (they answer with no messages), so that a server shutting down does not
// wait for them.
func (s *Service) EndLongPolls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

// Close ends the long polls and closes the database.
func (s *Service) Close() error {
	s.EndLongPolls()
	return s.db.Close()
}

// tx runs f in one transaction.
func (s *Service) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a local SQS transaction: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit a local SQS transaction: %w", err)
	}
	return nil
}

// wait returns a channel closed by the next notify of queue name.
func (s *Service) wait(name string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.waiters[name]
	if ch == nil {
		ch = make(chan struct{})
		s.waiters[name] = ch
	}
	return ch
}

// notify wakes the long polls of queue name.
func (s *Service) notify(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.waiters[name]; ch != nil {
		close(ch)
		delete(s.waiters, name)
	}
}

// ARN is the ARN of the queue name.
func (s *Service) ARN(name string) string {
	return "arn:aws:sqs:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + name
}

// QueueURL is the URL of the queue name on the endpoint whose host (and
// port) is host.
func (s *Service) QueueURL(host, name string) string {
	return "http://" + host + "/" + s.cfg.AccountID + "/" + name
}

// nameFromARN returns the queue name of an ARN of this account and region.
func (s *Service) nameFromARN(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5] == "" {
		return "", invalidParameter("%q is not a queue ARN like arn:aws:sqs:%s:%s:NAME.", arn, s.cfg.Region, s.cfg.AccountID)
	}
	if parts[3] != s.cfg.Region || parts[4] != s.cfg.AccountID {
		return "", &Error{Status: 400, Type: "QueueDoesNotExist", Code: "AWS.SimpleQueueService.NonExistentQueue",
			Message: fmt.Sprintf("The specified queue does not exist: %s is not in the local SQS's region %s and account %s.", arn, s.cfg.Region, s.cfg.AccountID)}
	}
	return parts[5], nil
}

// loadQueue reads queue name in tx.
func (s *Service) loadQueue(ctx context.Context, tx *sql.Tx, name string) (*queue, error) {
	var created, modified, purged int64
	var attrs, tags string
	err := s.queryRow(ctx, tx, `SELECT created, modified, attributes, tags, purged FROM queues WHERE name = ?`, name).
		Scan(&created, &modified, &attrs, &tags, &purged)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, queueDoesNotExist()
	}
	if err != nil {
		return nil, fmt.Errorf("read queue %s: %w", name, err)
	}
	q := &queue{name: name, created: time.UnixMilli(created), modified: time.UnixMilli(modified), purged: time.UnixMilli(purged)}
	if err := json.Unmarshal([]byte(attrs), &q.attrs); err != nil {
		return nil, fmt.Errorf("read queue %s's attributes: %w", name, err)
	}
	if err := json.Unmarshal([]byte(tags), &q.tags); err != nil {
		return nil, fmt.Errorf("read queue %s's tags: %w", name, err)
	}
	return q, nil
}

// saveQueue writes q (insert or replace) in tx.
func (s *Service) saveQueue(ctx context.Context, tx *sql.Tx, q *queue) error {
	attrs, _ := json.Marshal(q.attrs)
	tags, _ := json.Marshal(q.tags)
	_, err := s.exec(ctx, tx, `INSERT INTO queues (name, created, modified, attributes, tags, purged) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET modified = excluded.modified, attributes = excluded.attributes, tags = excluded.tags, purged = excluded.purged`,
		q.name, q.created.UnixMilli(), q.modified.UnixMilli(), string(attrs), string(tags), q.purged.UnixMilli())
	if err != nil {
		return fmt.Errorf("write queue %s: %w", q.name, err)
	}
	return nil
}

// dlqLookup tells applyAttributes whether a dead-letter queue exists and
// is FIFO.
func (s *Service) dlqLookup(ctx context.Context, tx *sql.Tx) func(string) (bool, bool) {
	return func(name string) (bool, bool) {
		var n int
		if s.queryRow(ctx, tx, `SELECT count(*) FROM queues WHERE name = ?`, name).Scan(&n) != nil || n == 0 {
			return false, false
		}
		return true, strings.HasSuffix(name, ".fifo")
	}
}

// createQueue creates queue name, or returns it unchanged when it exists
// with the same values of the attributes given.
func (s *Service) createQueue(ctx context.Context, name string, attrs, tags map[string]string) error {
	if name == "" {
		return missingParameter("QueueName")
	}
	if err := checkQueueName(name, attrs["FifoQueue"]); err != nil {
		return err
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	now := s.cfg.Clock()
	return s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.loadQueue(ctx, tx, name)
		if err == nil {
			for k, v := range attrs {
				if k == "FifoQueue" && v == "false" && !cur.fifo() {
					continue
				}
				if cur.attrs[k] != v {
					return newError("QueueNameExists", "QueueAlreadyExists",
						"A queue already exists with the same name and a different value for attribute %s (%q, not %q).", k, cur.attrs[k], v)
				}
			}
			return nil
		}
		if !errors.Is(err, ErrQueueDoesNotExist) {
			return err
		}
		q := &queue{name: name, created: now, modified: now, attrs: defaultAttributes(strings.HasSuffix(name, ".fifo")), tags: map[string]string{}}
		if q.attrs, err = applyAttributes(q, attrs, true, s.dlqLookup(ctx, tx)); err != nil {
			return err
		}
		for k, v := range tags {
			q.tags[k] = v
		}
		return s.saveQueue(ctx, tx, q)
	})
}

// CreateQueue creates a queue with attributes (as CreateQueue takes them:
// "VisibilityTimeout", "FifoQueue", "RedrivePolicy", …), or returns the
// existing one when its attributes have those values, and returns its ARN.
func (s *Service) CreateQueue(ctx context.Context, name string, attributes map[string]string) (arn string, err error) {
	if err := s.createQueue(ctx, name, attributes, nil); err != nil {
		return "", err
	}
	return s.ARN(name), nil
}

// QueueExists tells whether the queue of arn exists.
func (s *Service) QueueExists(ctx context.Context, arn string) (bool, error) {
	name, err := s.nameFromARN(arn)
	if err != nil {
		return false, nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM queues WHERE name = ?`, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look up queue %s: %w", name, err)
	}
	return n > 0, nil
}

// QueueAttributes returns every attribute of the queue of arn, as
// GetQueueAttributes with All does.
func (s *Service) QueueAttributes(ctx context.Context, arn string) (map[string]string, error) {
	name, err := s.nameFromARN(arn)
	if err != nil {
		return nil, err
	}
	return s.queueAttributes(ctx, name, []string{"All"})
}

func (s *Service) queueAttributes(ctx context.Context, name string, names []string) (map[string]string, error) {
	out := map[string]string{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		want := map[string]bool{}
		all := false
		for _, n := range names {
			switch {
			case n == "All":
				all = true
			case slices.Contains(readOnlyAttributes, n), n == "FifoQueue", n == "RedrivePolicy", intAttributes[n] != intRange{},
				storedAttributes[n], fifoAttributes[n] != nil && q.fifo():
				want[n] = true
			default:
				return invalidAttributeName("Unknown Attribute %s.", n)
			}
		}
		for k, v := range q.attrs {
			if all || want[k] {
				out[k] = v
			}
		}
		now := s.cfg.Clock().UnixMilli()
		computed := map[string]func() (string, error){
			"QueueArn":              func() (string, error) { return s.ARN(name), nil },
			"CreatedTimestamp":      func() (string, error) { return fmt.Sprint(q.created.Unix()), nil },
			"LastModifiedTimestamp": func() (string, error) { return fmt.Sprint(q.modified.Unix()), nil },
			"ApproximateNumberOfMessages": func() (string, error) {
				return s.count(ctx, tx, `SELECT count(*) FROM messages WHERE queue = ? AND visible <= ?`, name, now)
			},
			"ApproximateNumberOfMessagesNotVisible": func() (string, error) {
				return s.count(ctx, tx, `SELECT count(*) FROM messages WHERE queue = ? AND visible > ? AND receives > 0`, name, now)
			},
			"ApproximateNumberOfMessagesDelayed": func() (string, error) {
				return s.count(ctx, tx, `SELECT count(*) FROM messages WHERE queue = ? AND visible > ? AND receives = 0`, name, now)
			},
		}
		for k, f := range computed {
			if all || want[k] {
				v, err := f()
				if err != nil {
					return err
				}
				out[k] = v
			}
		}
		return nil
	})
	return out, err
}

func (s *Service) count(ctx context.Context, tx *sql.Tx, query string, args ...any) (string, error) {
	var n int64
	if err := s.queryRow(ctx, tx, query, args...).Scan(&n); err != nil {
		return "", fmt.Errorf("count messages: %w", err)
	}
	return fmt.Sprint(n), nil
}

func (s *Service) setQueueAttributes(ctx context.Context, name string, attrs map[string]string) error {
	now := s.cfg.Clock()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		if q.attrs, err = applyAttributes(q, attrs, false, s.dlqLookup(ctx, tx)); err != nil {
			return err
		}
		q.modified = now
		return s.saveQueue(ctx, tx, q)
	})
	if err == nil {
		s.notify(name) // a shorter wait or delay may make messages receivable sooner
	}
	return err
}

func (s *Service) deleteQueue(ctx context.Context, name string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.loadQueue(ctx, tx, name); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM messages WHERE queue = ?`, `DELETE FROM dedup WHERE queue = ?`, `DELETE FROM queues WHERE name = ?`} {
			if _, err := s.exec(ctx, tx, q, name); err != nil {
				return fmt.Errorf("delete queue %s: %w", name, err)
			}
		}
		return nil
	})
	if err == nil {
		s.notify(name)
	}
	return err
}

func (s *Service) purgeQueue(ctx context.Context, name string) error {
	now := s.cfg.Clock()
	return s.tx(ctx, func(tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		if now.Sub(q.purged) < time.Minute {
			return newError("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress",
				"Only one PurgeQueue operation on %s is allowed every 60 seconds.", name)
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM messages WHERE queue = ?`, name); err != nil {
			return fmt.Errorf("purge queue %s: %w", name, err)
		}
		q.purged = now
		return s.saveQueue(ctx, tx, q)
	})
}

// listQueues returns the names of the queues whose name starts with
// prefix, in name order.
func (s *Service) listQueues(ctx context.Context, prefix string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM queues WHERE substr(name, 1, length(?)) = ? ORDER BY name`, prefix, prefix)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list queues: %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

func (s *Service) tagQueue(ctx context.Context, name string, set map[string]string, remove []string) error {
	if err := checkTags(set); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		for k, v := range set {
			q.tags[k] = v
		}
		for _, k := range remove {
			delete(q.tags, k)
		}
		if len(q.tags) > 50 {
			return invalidParameter("Too many tags added for queue %s: a queue takes at most 50.", name)
		}
		return s.saveQueue(ctx, tx, q)
	})
}

func checkTags(tags map[string]string) error {
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return invalidParameter("Tag key %q or value %q is invalid: keys are 1 to 128 characters, values at most 256.", k, v)
		}
	}
	return nil
}

func (s *Service) queueTags(ctx context.Context, name string) (map[string]string, error) {
	var tags map[string]string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		tags = q.tags
		return nil
	})
	return tags, err
}

// stmt is query prepared once on the database (SQLite parsing every
// statement again was a fifth of a delivered batch's CPU), for tx.
func (s *Service) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		st = prev.(*sql.Stmt)
	}
	return tx.StmtContext(ctx, st), nil
}

func (s *Service) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *Service) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *Service) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return tx.QueryRowContext(ctx, query, args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}
