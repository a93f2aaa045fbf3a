package sqlstore

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

func TestRebind(t *testing.T) {
	pg, _ := newDialect(store.DialectPostgres)
	lite, _ := newDialect(store.DialectSQLite)
	for _, tc := range []struct{ in, pg string }{
		{"SELECT 1", "SELECT 1"},
		{"WHERE a = ?", "WHERE a = $1"},
		{"VALUES (?, ?, ?)", "VALUES ($1, $2, $3)"},
		{"(created_at, id) < (?, ?) LIMIT ?", "(created_at, id) < ($1, $2) LIMIT $3"},
		{strings.Repeat("?,", 11) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12"},
	} {
		if got := pg.rebind(tc.in); got != tc.pg {
			t.Errorf("postgres rebind(%q) = %q, want %q", tc.in, got, tc.pg)
		}
		if got := lite.rebind(tc.in); got != tc.in {
			t.Errorf("sqlite rebind(%q) = %q, want it unchanged", tc.in, got)
		}
	}
}

func TestCursor(t *testing.T) {
	c := cursor{createdAt: time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC), id: "e,with,commas"}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || got != c {
		t.Errorf("decodeCursor(encodeCursor(%v)) = %v, %v", c, got, err)
	}
	for _, bad := range []string{"", "!!", "MTIz", "eCxpZA", "MTIzLA"} { // "123", "x,id", "123,"
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q): got nil error", bad)
		}
	}
}

func TestSQLiteTimeLayout(t *testing.T) {
	lite, _ := newDialect(store.DialectSQLite)
	times := []time.Time{
		time.Date(1925, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2025, 1, 1, 0, 0, 1, 0, time.UTC),
	}
	var prev string
	for _, tm := range times {
		s := lite.time(tm).(string)
		if len(s) != len(sqliteTimeLayout) || s <= prev {
			t.Errorf("encoded %v as %q after %q; want fixed width and text order = time order", tm, s, prev)
		}
		prev = s
		back, err := parseTime(s)
		if err != nil || !back.Equal(tm) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", s, back, err, tm)
		}
	}
}

func TestReadMigrations(t *testing.T) {
	ms, err := readMigrations(fstest.MapFS{
		"002_more.up.sql":    {Data: []byte("B")},
		"001_initial.up.sql": {Data: []byte("A")},
		"README.md":          {Data: []byte("ignored")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].version != 1 || ms[1].version != 2 || ms[0].sql != "A" || ms[1].name != "002_more" {
		t.Errorf("readMigrations = %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"empty":     {},
		"no number": {"initial.up.sql": {}},
		"zero":      {"000_x.up.sql": {}},
		"duplicate": {"001_a.up.sql": {}, "1_b.up.sql": {}},
	} {
		if _, err := readMigrations(fsys); err == nil {
			t.Errorf("readMigrations(%s): got nil error", name)
		}
	}
}
