package sns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// The SQLite schema: topics, subscriptions, and the deliveries that a
// publish or a subscribe owes (a row per subscription and message,
// written in the publish's transaction, deleted once delivered or given
// up).
const schema = `
CREATE TABLE IF NOT EXISTS topics (
	arn        TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	attributes TEXT NOT NULL,
	tags       TEXT NOT NULL,
	created    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
	arn        TEXT PRIMARY KEY,
	topic_arn  TEXT NOT NULL,
	protocol   TEXT NOT NULL,
	endpoint   TEXT NOT NULL,
	attributes TEXT NOT NULL,
	confirmed  INTEGER NOT NULL,
	token      TEXT NOT NULL,
	created    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_topic ON subscriptions (topic_arn, created);
CREATE TABLE IF NOT EXISTS deliveries (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	subscription_arn TEXT NOT NULL,
	message          TEXT NOT NULL,
	attempts         INTEGER NOT NULL DEFAULT 0,
	due              INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due);
CREATE TABLE IF NOT EXISTS settings (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`

// openDB opens (or creates) the database at path.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: every write is serialized anyway, and reads are
	// small.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create the SNS schema in %s: %w", path, err)
	}
	return db, nil
}

type topic struct {
	ARN        string
	Name       string
	Attributes map[string]string
	Tags       map[string]string
}

type subscription struct {
	ARN        string
	TopicARN   string
	Protocol   string
	Endpoint   string
	Attributes map[string]string
	Confirmed  bool
	Token      string
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func getTopic(ctx context.Context, q queryer, arn string) (*topic, error) {
	var t topic
	var attrs, tags string
	err := q.QueryRowContext(ctx, `SELECT arn, name, attributes, tags FROM topics WHERE arn = ?`, arn).Scan(&t.ARN, &t.Name, &attrs, &tags)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(attrs), &t.Attributes)
	_ = json.Unmarshal([]byte(tags), &t.Tags)
	return &t, nil
}

func putTopic(ctx context.Context, q queryer, t *topic, now time.Time) error {
	attrs, _ := json.Marshal(orEmpty(t.Attributes))
	tags, _ := json.Marshal(orEmpty(t.Tags))
	_, err := q.ExecContext(ctx, `INSERT INTO topics (arn, name, attributes, tags, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (arn) DO UPDATE SET attributes = excluded.attributes, tags = excluded.tags`,
		t.ARN, t.Name, string(attrs), string(tags), now.UnixNano())
	return err
}

const subscriptionColumns = `arn, topic_arn, protocol, endpoint, attributes, confirmed, token`

func scanSubscription(scan func(...any) error) (*subscription, error) {
	var s subscription
	var attrs string
	if err := scan(&s.ARN, &s.TopicARN, &s.Protocol, &s.Endpoint, &attrs, &s.Confirmed, &s.Token); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(attrs), &s.Attributes)
	if s.Attributes == nil {
		s.Attributes = map[string]string{}
	}
	return &s, nil
}

func getSubscription(ctx context.Context, q queryer, arn string) (*subscription, error) {
	s, err := scanSubscription(q.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE arn = ?`, arn).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return s, err
}

// listSubscriptions lists a topic's subscriptions ("" for all), oldest
// first.
func listSubscriptions(ctx context.Context, q queryer, topicARN string) ([]*subscription, error) {
	query := `SELECT ` + subscriptionColumns + ` FROM subscriptions`
	var args []any
	if topicARN != "" {
		query += ` WHERE topic_arn = ?`
		args = append(args, topicARN)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY created, arn`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*subscription
	for rows.Next() {
		s, err := scanSubscription(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func putSubscription(ctx context.Context, q queryer, s *subscription, now time.Time) error {
	attrs, _ := json.Marshal(orEmpty(s.Attributes))
	_, err := q.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (arn) DO UPDATE SET attributes = excluded.attributes, confirmed = excluded.confirmed, token = excluded.token`,
		s.ARN, s.TopicARN, s.Protocol, s.Endpoint, string(attrs), s.Confirmed, s.Token, now.UnixNano())
	return err
}

// addDelivery records a delivery owed to subscription arn, due now.
func addDelivery(ctx context.Context, q queryer, arn string, m *message, now time.Time) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO deliveries (subscription_arn, message, due) VALUES (?, ?, ?)`, arn, string(b), now.UnixMilli())
	return err
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
