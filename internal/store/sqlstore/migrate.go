package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNewerDatabase is returned by New when the database was migrated by a
// newer Sluice: this one would misread its tables.
var ErrNewerDatabase = errors.New("the database was migrated by a newer sluice")

// migration is one numbered file, NNN_name.up.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// readMigrations returns the migrations at the root of fsys in version order.
func readMigrations(fsys fs.FS) ([]migration, error) {
	paths, err := fs.Glob(fsys, "*.up.sql")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, p := range paths {
		name := strings.TrimSuffix(p, ".up.sql")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number, as in 001_initial.up.sql", p)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", p, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("read migrations: no *.up.sql files")
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies the migrations of fsys that sluice_migration does not
// record, in one transaction.
func migrate(ctx context.Context, pool Pool, d *dialect, fsys fs.FS, now time.Time) error {
	ms, err := readMigrations(fsys)
	if err != nil {
		return err
	}
	return runTx(ctx, pool, false, func(tx PoolTx) error {
		if d.migrationLock != "" {
			if _, err := tx.Exec(ctx, d.migrationLock); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, d.migrationTable); err != nil {
			return fmt.Errorf("create sluice_migration: %w", err)
		}
		applied := make(map[int]bool)
		err := tx.Query(ctx, "SELECT version FROM sluice_migration", nil, func(r Row) error {
			var v int
			if err := r.Scan(&v); err != nil {
				return err
			}
			applied[v] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("read sluice_migration: %w", err)
		}
		known := ms[len(ms)-1].version
		for v := range applied {
			if v > known {
				return fmt.Errorf("%w: it has migration %d, this sluice knows up to %d", ErrNewerDatabase, v, known)
			}
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
			_, err := tx.Exec(ctx, d.rebind("INSERT INTO sluice_migration (version, name, applied_at) VALUES (?, ?, ?)"),
				m.version, m.name, d.time(now))
			if err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}
