package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// walSync makes the store durable: every commit the store makes (a
// transaction of InTx, or a write statement outside one) returns only once
// a flush of the write-ahead log that began after it has succeeded, and a
// read of the store returns only what such a flush has put on the disk.
//
// SQLite itself would do it with synchronous=FULL, flushing the log at
// every commit while it holds the one write connection — River's fetches
// and completions included, which need no flush: Sluice completes its jobs
// in its own transactions, and a job whose River bookkeeping a power loss
// undoes is only found running at start and run again. Flushing in
// SQLite's place lets the connection go on to the next transaction while
// the disk works, and one flush serves every commit that finished before
// it began (group commit).
//
// Why it is enough: in WAL mode a commit is the frames appended to PATH-wal
// with the last one marked as a commit, written (pwrite) before the commit
// returns. fsync(2) on any descriptor of that file flushes all the file's
// written data, so after a flush that began once a commit returned, the
// commit is on the disk. SQLite keeps the log file while a connection is
// open, and recovery after a power loss replays the committed frames it
// finds there. With synchronous=NORMAL SQLite flushes the log before a
// checkpoint copies it into the database file and the database file after,
// so what a checkpoint moved out of the log is on the disk too. A log file
// seen for the first time has its directory flushed as well, since its
// name is only on the disk once the directory is.
//
// Readers: unlike with synchronous=FULL, a commit is visible to the other
// connections as soon as SQLite has written it, a moment before the flush.
// So a read that may have seen a commit not yet flushed — one was under
// way, or had returned and not yet been flushed, when the read ended —
// waits for a flush that begins after it (read), which puts on the disk
// everything it could have seen; the API and the event streams never show
// a change a power loss could still take back. When every commit that
// ended has been flushed and none is under way, the read pays nothing.
// Only the Store's own commits count: the tables it reads are written by
// nothing else (River's commits touch River's tables alone).
type walSync struct {
	wal string // PATH-wal

	mu       sync.Mutex
	underWay int           // commits begun and not yet ended
	ended    uint64        // commits (and reads that asked for a flush) that have ended, numbered in order
	flushed  uint64        // the number up to which a flush that began after them succeeded
	flushing chan struct{} // closed when the flush under way ends; nil when none is
	known    os.FileInfo   // the log file last flushed, to tell a new one
}

func newWALSync(path string) *walSync { return &walSync{wal: path + "-wal"} }

// begin is called before a commit (or a write statement outside a
// transaction) starts; committed must follow.
func (w *walSync) begin() {
	w.mu.Lock()
	w.underWay++
	w.mu.Unlock()
}

// committed is called when a commit begun with begin has returned err. It
// returns err, or, for a commit that succeeded, once a flush of the log
// that began after the commit ended has succeeded.
func (w *walSync) committed(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.underWay--
	if err != nil {
		return err
	}
	w.ended++
	return w.flushTo(w.ended)
}

// read is called when a read has ended. It returns once everything the
// read could have seen is on the disk.
func (w *walSync) read() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.underWay == 0 && w.flushed >= w.ended {
		return nil
	}
	w.ended++
	return w.flushTo(w.ended)
}

// flushTo returns once a flush that began after number mine ended has
// succeeded. w.mu is held, and released while flushing.
func (w *walSync) flushTo(mine uint64) error {
	for w.flushed < mine {
		if w.flushing != nil {
			// A flush that may have begun before mine ended: wait for
			// it, then look again.
			ch := w.flushing
			w.mu.Unlock()
			<-ch
			w.mu.Lock()
			continue
		}
		upTo, ch := w.ended, make(chan struct{})
		w.flushing = ch
		known := w.known
		w.mu.Unlock()
		fi, err := flushWAL(w.wal, known)
		w.mu.Lock()
		w.flushing = nil
		close(ch)
		if err != nil {
			return fmt.Errorf("flush %s to disk: %w", w.wal, err)
		}
		w.known = fi
		w.flushed = max(w.flushed, upTo)
	}
	return nil
}

// flushWAL flushes the log file at path, and its directory when the file is
// not known (nil, or another file than known). It returns the file's info.
// A log that does not exist has been checkpointed into the database file
// and removed, both flushed by SQLite: there is nothing left to flush.
func flushWAL(path string, known os.FileInfo) (os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if known == nil || !os.SameFile(fi, known) {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return nil, err
		}
	}
	return fi, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
