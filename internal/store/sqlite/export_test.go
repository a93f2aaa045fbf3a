package sqlite

import (
	"context"
	"database/sql"
)

// OpenUnlocked opens path without taking its lock, as a process that does
// not know the lock (the sqlite3 shell) would. Its stage cache is checked
// (WithVerifiedStageCache): another writer of the file is what the cache's
// data version must notice.
func OpenUnlocked(ctx context.Context, path string) (*Store, error) {
	o := defaultOptions()
	o.verifyCache = true
	s, err := open(ctx, path, o)
	if err == nil {
		s.unlock = func() error { return nil }
	}
	return s, err
}

// ReadDB returns the pool for reads, nil when the store has none.
func (s *Store) ReadDB() *sql.DB { return s.reads }
