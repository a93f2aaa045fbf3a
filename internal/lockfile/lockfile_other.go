//go:build !unix

package lockfile

// Lock does not lock on systems without flock: there, nothing keeps two
// processes from sharing a data directory (README: such systems are not
// supported).
func Lock(string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
