//go:build unix

package locallambda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes an exclusive lock on the data directory, so that two
// local Lambdas never write the same state (the last snapshot written would
// silently win). The lock goes with the process; unlock releases it sooner.
func lockDataDir(dir string) (unlock func() error, err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock local Lambda data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("local Lambda data directory %s is in use by another local Lambda (another sluice process?)", dir)
		}
		return nil, fmt.Errorf("lock local Lambda data directory: %w", err)
	}
	return f.Close, nil
}
