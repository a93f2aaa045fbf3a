// Package atomicfile replaces files so that a crash leaves either the old
// or the new content, never a mix: write a temporary file beside the
// target, fsync it, rename it over the target, fsync the directory. The
// local Lambda's function packages, queued events and S3
// metadata, and the server's --addr-file, are written this way. The file
// is readable by its owner only. It keeps no state and must not be used for files that
// are appended to.
package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
)

const tempInfix = ".tmp-"

// IsTemp reports whether name (a base name) is one of Write's temporary
// files, which a crash during Write can leave behind.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

// Write replaces path with data.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a directory's entries (a rename, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
