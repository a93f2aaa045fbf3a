// Package lockfile holds an exclusive lock on a file for as long as a
// process needs to own something on disk: a SQLite database, the local
// Lambda's state. The lock is advisory (flock) and goes with the process,
// so a killed process never leaves a stale lock behind. It must not be
// used to coordinate goroutines of one process: two locks of one process
// on one file exclude each other as two processes' do.
package lockfile

import "errors"

// ErrLocked is returned (wrapped, with the file's name) when another
// process, or another lock of this one, holds the lock.
var ErrLocked = errors.New("locked by another process")
