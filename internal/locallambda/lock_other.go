//go:build !unix

package locallambda

// lockDataDir does not lock on systems without flock; do not point two
// local Lambdas at one data directory there.
func lockDataDir(string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
