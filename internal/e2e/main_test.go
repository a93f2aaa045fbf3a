package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestMain checks for leaked goroutines and removes the binary the tests
// built.
func TestMain(m *testing.M) {
	sluicetest.Main(m, goleak.Cleanup(func(int) {
		if buildOnce.path != "" {
			os.RemoveAll(filepath.Dir(buildOnce.path))
		}
	}))
}
