package control

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// MaxUnzippedSize is AWS's limit on a deployment package's unzipped size.
const MaxUnzippedSize = 250 * 1024 * 1024 // 262,144,000 bytes

// maxZipEntries bounds the number of entries, so that a package of empty
// files cannot exhaust inodes.
const maxZipEntries = 200_000

// Sentinel errors of Unzip; the control plane maps both to
// InvalidParameterValueException.
var (
	// ErrInvalidZip: the bytes are not a usable zip archive, or an entry
	// would land outside the target directory.
	ErrInvalidZip = errors.New("invalid deployment package")
	// ErrUnzippedTooLarge: the package unzips to more than the limit.
	ErrUnzippedTooLarge = errors.New("deployment package too large when unzipped")
)

// Unzip extracts a deployment package (size bytes of zipFile) into dir
// (created if missing), refusing anything that would escape dir: absolute
// paths, ".." elements, backslash paths, and symbolic links that lead
// outside. A link is followed as the kernel would follow it, through the
// links already extracted — "x/y/up -> ../.." and then "esc -> x/y/up/.."
// is an escape though each target looks local — when it is extracted and
// again once all entries are (checkLink); a link that escapes is removed.
// Writes go through an os.Root, so even a link planted by an earlier entry
// cannot be followed outside. The total unzipped size is bounded by
// maxUnzipped (≤ 0 means MaxUnzippedSize), counted as bytes are written,
// not as the archive declares them. Files keep their execute bits (0755 or
// 0644). On error dir may hold a partial extraction; the caller removes
// it.
func Unzip(zipFile io.ReaderAt, size int64, dir string, maxUnzipped int64) error {
	if maxUnzipped <= 0 {
		maxUnzipped = MaxUnzippedSize
	}
	zr, err := zip.NewReader(zipFile, size)
	if err != nil {
		return fmt.Errorf("%w: could not unzip the uploaded file: %v", ErrInvalidZip, err)
	}
	if len(zr.File) > maxZipEntries {
		return fmt.Errorf("%w: %d entries, more than the %d the local Lambda accepts", ErrInvalidZip, len(zr.File), maxZipEntries)
	}
	var declared uint64
	for _, f := range zr.File {
		declared += f.UncompressedSize64
	}
	if declared > uint64(maxUnzipped) {
		return fmt.Errorf("%w: unzipped size must be smaller than %d bytes; the package declares %d", ErrUnzippedTooLarge, maxUnzipped, declared)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer root.Close()

	remaining := maxUnzipped
	var links []string
	for _, f := range zr.File {
		name, err := entryName(f.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("%w: create directory %q: %v", ErrInvalidZip, f.Name, err)
			}
		case mode&fs.ModeSymlink != 0:
			if err := extractSymlink(root, f, name); err != nil {
				return err
			}
			links = append(links, name)
		case mode.IsRegular():
			n, err := extractFile(root, f, name, mode, remaining)
			if err != nil {
				return err
			}
			remaining -= n
		default:
			return fmt.Errorf("%w: entry %q is a %s, not a file, directory or symbolic link", ErrInvalidZip, f.Name, mode.Type())
		}
	}
	// Every link again, now that all are in place: a link extracted later
	// can change where an earlier one leads (a -> b/.., then b -> .).
	for _, name := range links {
		if err := checkLink(root, name); err != nil {
			return err
		}
	}
	return nil
}

// entryName validates a zip entry name and returns it as a local path.
func entryName(name string) (string, error) {
	if strings.Contains(name, `\`) {
		return "", fmt.Errorf("%w: entry %q uses backslashes; zip paths must use /", ErrInvalidZip, name)
	}
	clean := path.Clean(strings.TrimSuffix(name, "/"))
	if name == "" || path.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(clean)) && clean != "." {
		return "", fmt.Errorf("%w: entry %q would be extracted outside the package directory", ErrInvalidZip, name)
	}
	return filepath.FromSlash(clean), nil
}

func extractSymlink(root *os.Root, f *zip.File, name string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: read %q: %v", ErrInvalidZip, f.Name, err)
	}
	target, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return fmt.Errorf("%w: read %q: %v", ErrInvalidZip, f.Name, err)
	}
	t := string(target)
	if t == "" || path.IsAbs(t) || strings.Contains(t, `\`) {
		return fmt.Errorf("%w: symbolic link %q points to %q, outside the package directory", ErrInvalidZip, f.Name, t)
	}
	if err := mkParent(root, name); err != nil {
		return fmt.Errorf("%w: create the directory of %q: %v", ErrInvalidZip, f.Name, err)
	}
	_ = root.Remove(name)
	if err := root.Symlink(t, name); err != nil {
		return fmt.Errorf("%w: create symbolic link %q: %v", ErrInvalidZip, f.Name, err)
	}
	return checkLink(root, name)
}

// maxLinkHops is how many links a path may pass through, as Linux's
// limit (40) on following them.
const maxLinkHops = 40

// checkLink follows the link at name through the links already in root,
// a component at a time, and removes it and fails if it leads outside
// root. Where a component does not exist (yet), the rest of the target is
// taken as written; Unzip checks every link again at the end, when all
// exist that will.
func checkLink(root *os.Root, name string) error {
	target, err := root.Readlink(name)
	if err != nil {
		return nil // replaced by a later entry
	}
	escape := func(why string) error {
		_ = root.Remove(name)
		return fmt.Errorf("%w: symbolic link %q points to %q, which %s", ErrInvalidZip, filepath.ToSlash(name), target, why)
	}
	var dir []string // where the walk is, from the root: directories only, never links
	if d := filepath.ToSlash(filepath.Dir(name)); d != "." {
		dir = strings.Split(d, "/")
	}
	todo := strings.Split(target, "/")
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(dir) == 0 {
				return escape("leads outside the package directory")
			}
			dir = dir[:len(dir)-1]
			continue
		}
		next := filepath.Join(append(slices.Clone(dir), c)...)
		fi, err := root.Lstat(next)
		switch {
		case err != nil:
			// Not there (yet): as written.
		case fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > maxLinkHops {
				return escape("passes through more than 40 symbolic links")
			}
			t, err := root.Readlink(next)
			if err != nil {
				return escape("cannot be followed: " + err.Error())
			}
			if path.IsAbs(t) {
				return escape("leads through " + filepath.ToSlash(next) + " to an absolute path")
			}
			todo = append(strings.Split(t, "/"), todo...)
			continue
		}
		dir = append(dir, c)
	}
	return nil
}

func extractFile(root *os.Root, f *zip.File, name string, mode fs.FileMode, remaining int64) (int64, error) {
	if err := mkParent(root, name); err != nil {
		return 0, fmt.Errorf("%w: create the directory of %q: %v", ErrInvalidZip, f.Name, err)
	}
	perm := fs.FileMode(0o644)
	if mode.Perm()&0o111 != 0 {
		perm = 0o755
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: read %q: %v", ErrInvalidZip, f.Name, err)
	}
	defer rc.Close()
	_ = root.Remove(name) // a later entry replaces an earlier one, never writes through a link
	out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return 0, fmt.Errorf("%w: create %q: %v", ErrInvalidZip, f.Name, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, remaining+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case n > remaining:
		return n, fmt.Errorf("%w: unzipped size exceeds %d bytes", ErrUnzippedTooLarge, remaining)
	case err != nil:
		return n, fmt.Errorf("%w: extract %q: %v", ErrInvalidZip, f.Name, err)
	}
	// The umask may have removed bits; set them as the package says.
	if err := root.Chmod(name, perm); err != nil {
		return n, fmt.Errorf("set the mode of %q: %w", f.Name, err)
	}
	return n, nil
}

func mkParent(root *os.Root, name string) error {
	if d := filepath.Dir(name); d != "." {
		return root.MkdirAll(d, 0o755)
	}
	return nil
}
