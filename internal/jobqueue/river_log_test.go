package jobqueue_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/jobqueue"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// syncBuffer is a bytes.Buffer safe for River's goroutines to log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRiverLogsAtDebug starts and stops River with a logger at info and
// one at debug: River's routine info records ("River client started")
// reach only the second, as debug records.
func TestRiverLogsAtDebug(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		var out syncBuffer
		rec := &recorder{runs: map[int]int{}}
		q, err := jobqueue.New(t.Context(), jobqueue.Config{
			Store: sluicetest.OpenSQLite(t), Workers: workersFor(rec),
			Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: level})),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := q.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		got := out.String()
		for line := range strings.Lines(got) {
			if strings.Contains(line, "River client") && !strings.Contains(line, "level=DEBUG") {
				t.Errorf("at %v, River logged %q; want its info records at debug", level, line)
			}
		}
		started := strings.Contains(got, `msg="River client started"`)
		if want := level == slog.LevelDebug; started != want {
			t.Errorf("at %v, River's start logged: %v, want %v; the log:\n%s", level, started, want, got)
		}
	}
}
