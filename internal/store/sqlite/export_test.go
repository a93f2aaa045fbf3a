package sqlite

import (
	"context"
	"database/sql"
)

// OpenUnlocked opens path without taking its lock, as a process that does
// not know the lock (the sqlite3 shell) would.
func OpenUnlocked(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path, defaultOptions())
	if err == nil {
		s.unlock = func() error { return nil }
	}
	return s, err
}

// ReadDB returns the pool for reads, nil when the store has none.
func (s *Store) ReadDB() *sql.DB { return s.reads }
