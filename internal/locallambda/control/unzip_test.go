package control

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type zipEntry struct {
	name string
	mode fs.FileMode
	body string
}

// unzipBytes is Unzip of a package in memory.
func unzipBytes(z []byte, dir string, maxUnzipped int64) error {
	return Unzip(bytes.NewReader(z), int64(len(z)), dir, maxUnzipped)
}

func makeZip(tb testing.TB, entries ...zipEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnzipExtracts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "code")
	z := makeZip(t,
		zipEntry{name: "bootstrap", mode: 0o755, body: "#!/bin/sh\n"},
		zipEntry{name: "lib/", mode: fs.ModeDir | 0o755},
		zipEntry{name: "lib/data.txt", body: "data"},
		zipEntry{name: "deep/a/b/c.txt", body: "c"},
		zipEntry{name: "link", mode: fs.ModeSymlink | 0o777, body: "lib/data.txt"},
		zipEntry{name: "lib/up", mode: fs.ModeSymlink | 0o777, body: "../deep"},
	)
	if err := unzipBytes(z, dir, 0); err != nil {
		t.Fatalf("Unzip: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "bootstrap"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bootstrap mode = %v (err %v), want 0755", fi.Mode(), err)
	}
	fi, err = os.Stat(filepath.Join(dir, "lib/data.txt"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("lib/data.txt mode = %v (err %v), want 0644", fi.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "link")); err != nil || string(b) != "data" {
		t.Errorf("link reads %q (err %v), want data", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lib/up/a/b/c.txt")); err != nil || string(b) != "c" {
		t.Errorf("lib/up/a/b/c.txt reads %q (err %v), want c", b, err)
	}
}

func TestUnzipRefusesEscapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []zipEntry
	}{
		{"dot-dot", []zipEntry{{name: "../evil", body: "x"}}},
		{"nested dot-dot", []zipEntry{{name: "a/../../evil", body: "x"}}},
		{"absolute", []zipEntry{{name: "/tmp/evil", body: "x"}}},
		{"backslash", []zipEntry{{name: `..\evil`, body: "x"}}},
		{"symlink out", []zipEntry{{name: "l", mode: fs.ModeSymlink | 0o777, body: "../outside"}}},
		{"absolute symlink", []zipEntry{{name: "l", mode: fs.ModeSymlink | 0o777, body: "/etc"}}},
		{"symlink out from a subdirectory", []zipEntry{{name: "a/b/l", mode: fs.ModeSymlink | 0o777, body: "../../../x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "code")
			err := unzipBytes(makeZip(t, tt.entries...), dir, 0)
			if !errors.Is(err, ErrInvalidZip) {
				t.Fatalf("Unzip = %v, want ErrInvalidZip", err)
			}
			assertOnlyChild(t, parent, "code")
		})
	}
}

// TestUnzipRefusesLinkChains: links whose targets each look local but
// which, followed through one another as the kernel follows them, lead
// outside. The check must resolve each link through those already
// extracted, and check them all again at the end.
func TestUnzipRefusesLinkChains(t *testing.T) {
	t.Parallel()
	link := func(name, target string) zipEntry {
		return zipEntry{name: name, mode: fs.ModeSymlink | 0o777, body: target}
	}
	tests := []struct {
		name    string
		entries []zipEntry
	}{
		{"through a link to the root", []zipEntry{{name: "x/y/", mode: fs.ModeDir | 0o755}, link("x/y/up", "../.."), link("esc", "x/y/up/..")}},
		{"a link to a link to the root", []zipEntry{link("a", "."), link("b", "a"), link("esc", "b/../etc")}},
		{"a later link changes an earlier one", []zipEntry{link("a", "b/.."), link("b", ".")}},
		{"two steps down, three up", []zipEntry{{name: "d/e/f/", mode: fs.ModeDir | 0o755}, link("d/e/f/top", "../../.."), link("d/e/f/top2", "top/d/e/f/top"), link("esc", "d/e/f/top2/../..")}},
		{"through a link to an absolute path", []zipEntry{link("a", "b/c"), {name: "b/", mode: fs.ModeDir | 0o755}, link("b/c", "../../../../../../../../..")}},
		{"a loop", []zipEntry{link("a", "b"), link("b", "a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "code")
			err := unzipBytes(makeZip(t, tt.entries...), dir, 0)
			if !errors.Is(err, ErrInvalidZip) {
				t.Errorf("Unzip = %v, want ErrInvalidZip", err)
			}
			assertNoLinkLeaves(t, dir)
		})
	}
}

// TestUnzipKeepsLocalChains: chains of links that stay inside are fine.
func TestUnzipKeepsLocalChains(t *testing.T) {
	t.Parallel()
	link := func(name, target string) zipEntry {
		return zipEntry{name: name, mode: fs.ModeSymlink | 0o777, body: target}
	}
	dir := filepath.Join(t.TempDir(), "code")
	z := makeZip(t,
		zipEntry{name: "x/y/data.txt", body: "data"},
		link("x/y/up", "../.."),
		link("via", "x/y/up/x/y/data.txt"),
		link("lib", "x/y"),
		link("also", "lib/up/lib/data.txt"),
		link("dangling", "not/yet/../there"),
	)
	if err := unzipBytes(z, dir, 0); err != nil {
		t.Fatalf("Unzip: %v", err)
	}
	for _, name := range []string{"via", "also"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "data" {
			t.Errorf("%s reads %q (err %v), want data", name, b, err)
		}
	}
}

// assertNoLinkLeaves fails if a symbolic link under dir resolves outside
// it.
func assertNoLinkLeaves(tb testing.TB, dir string) {
	tb.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return // nothing extracted
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		to, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // dangling or a loop: leads nowhere
		}
		if rel, err := filepath.Rel(real, to); err != nil || !filepath.IsLocal(rel) && rel != "." {
			tb.Errorf("%s resolves to %s, outside %s", p, to, dir)
		}
		return nil
	})
}

// assertOnlyChild checks that parent holds nothing but child.
func assertOnlyChild(tb testing.TB, parent, child string) {
	tb.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != child {
			tb.Errorf("%s was written outside the package directory", filepath.Join(parent, e.Name()))
		}
	}
}

func TestUnzipWritesThroughNoPlantedLink(t *testing.T) {
	t.Parallel()
	// A symlink inside the package that points inside is fine, but a file
	// entry with the same name as an earlier link must replace the link,
	// never write through it.
	parent := t.TempDir()
	dir := filepath.Join(parent, "code")
	z := makeZip(t,
		zipEntry{name: "target.txt", body: "original"},
		zipEntry{name: "l", mode: fs.ModeSymlink | 0o777, body: "target.txt"},
		zipEntry{name: "l", body: "replaced"},
	)
	if err := unzipBytes(z, dir, 0); err != nil {
		t.Fatalf("Unzip: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "target.txt")); string(b) != "original" {
		t.Errorf("target.txt = %q: the later entry wrote through the link", b)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "l")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("l is %v (err %v), want a regular file", fi.Mode(), err)
	}
}

func TestUnzipSizeBound(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0", 1<<20) // compresses to almost nothing
	z := makeZip(t, zipEntry{name: "a", body: big}, zipEntry{name: "b", body: big})
	if err := unzipBytes(z, t.TempDir(), 1<<20+10); !errors.Is(err, ErrUnzippedTooLarge) {
		t.Errorf("Unzip of 2 MB with a 1 MB bound = %v, want ErrUnzippedTooLarge", err)
	}
	if err := unzipBytes(z, t.TempDir(), 2<<20); err != nil {
		t.Errorf("Unzip of 2 MB with a 2 MB bound: %v", err)
	}

	// An archive whose headers understate the sizes is still cut off at
	// the bound, counting the bytes actually written.
	lying := understate(t, z)
	parent := t.TempDir()
	if err := unzipBytes(lying, filepath.Join(parent, "code"), 1<<20+10); err == nil {
		t.Error("Unzip of an archive that lies about its sizes succeeded beyond the bound")
	}
	var total int64
	filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			total += fi.Size()
		}
		return nil
	})
	if total > 1<<20+11 {
		t.Errorf("%d bytes written, more than the bound", total)
	}

	if err := unzipBytes([]byte("not a zip"), t.TempDir(), 0); !errors.Is(err, ErrInvalidZip) {
		t.Errorf("Unzip of garbage = %v, want ErrInvalidZip", err)
	}
}

// understate rewrites the uncompressed sizes in a zip's central directory
// and local headers to 1 byte.
func understate(tb testing.TB, z []byte) []byte {
	tb.Helper()
	out := bytes.Clone(z)
	for i := 0; i+30 < len(out); i++ {
		switch {
		case bytes.Equal(out[i:i+4], []byte("PK\x03\x04")): // local header: size at 22
			copy(out[i+22:i+26], []byte{1, 0, 0, 0})
		case bytes.Equal(out[i:i+4], []byte("PK\x01\x02")): // central directory: size at 24
			copy(out[i+24:i+28], []byte{1, 0, 0, 0})
		}
	}
	return out
}

func FuzzUnzip(f *testing.F) {
	f.Add(makeZip(f, zipEntry{name: "bootstrap", mode: 0o755, body: "x"}))
	f.Add(makeZip(f, zipEntry{name: "../x", body: "x"}))
	f.Add(makeZip(f, zipEntry{name: "l", mode: fs.ModeSymlink | 0o777, body: "../../x"}, zipEntry{name: "l/y", body: "y"}))
	f.Fuzz(func(t *testing.T, z []byte) {
		parent := t.TempDir()
		_ = unzipBytes(z, filepath.Join(parent, "code"), 1<<20)
		assertOnlyChild(t, parent, "code")
		assertNoLinkLeaves(t, filepath.Join(parent, "code"))
	})
}
