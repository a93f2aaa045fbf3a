package control

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/s3"
)

// Function packages on disk, under the data directory:
//
//	functions/NAME/ID/zips/HEX.zip   a package as uploaded, once per content (HEX = its SHA-256)
//	functions/NAME/ID/code/HEX/      a package unpacked, once per content: $LATEST and every
//	                                 published version with that code share it; it appears
//	                                 whole (unpacked beside, then renamed) and is never written
//	                                 after
//
// ID is the function's incarnation: deleting a function and creating
// another of the same name never mixes their files. Files no record
// references are removed after activations and deletes, and at start-up.

// maxUnzippedSize is AWS's limit on a function's unpacked size.
const maxUnzippedSize = 262144000

// functionCode is the Code member of CreateFunction (and, flattened, of
// UpdateFunctionCode).
type functionCode struct {
	// ZipFile is null after decodeCodeRequest: the package it carried
	// is in zip.
	ZipFile             []byte `json:"ZipFile"`
	S3Bucket            string `json:"S3Bucket"`
	S3Key               string `json:"S3Key"`
	S3ObjectVersion     string `json:"S3ObjectVersion"`
	ImageUri            string `json:"ImageUri"`
	SourceKMSKeyArn     string `json:"SourceKMSKeyArn"`
	S3ObjectStorageMode string `json:"S3ObjectStorageMode"`

	zip *spool // the decoded ZipFile, if the request had one
}

// codePackage is a validated deployment package in a file of the
// temporary directory, until storeZip moves it into place; discard
// removes it if it is still there.
type codePackage struct {
	path   string
	size   int64
	sha256 string // base64 of the SHA-256, as CodeSha256
	hex    string
}

func (p *codePackage) discard() {
	if p != nil {
		_ = os.Remove(p.path)
	}
}

// loadPackage gets a function's package from the request — inline, or from
// the embedded S3 store (read directly, not over HTTP) — and checks it as
// AWS does at the call: a readable zip within the unzipped-size limit. The
// package goes from file to file, never whole into memory. It takes c.zip
// over: on error it is removed, on success it is the package's file.
func (cp *Plane) loadPackage(c functionCode) (*codePackage, error) {
	hasZip := c.zip != nil && c.zip.n > 0
	hasS3 := c.S3Bucket != "" || c.S3Key != "" || c.S3ObjectVersion != ""
	var err error
	switch {
	case c.ImageUri != "":
		err = awserr.InvalidParameter("Container images (ImageUri, PackageType Image) are not supported by the local Lambda: deploy a .zip package with ZipFile or S3Bucket/S3Key.")
	case hasZip && hasS3:
		err = awserr.InvalidParameter("Please provide the function code either as ZipFile or as S3Bucket and S3Key, not both.")
	case !hasZip && !hasS3:
		err = awserr.InvalidParameter("Please provide the function code: ZipFile, or S3Bucket and S3Key.")
	case hasS3 && (c.S3Bucket == "" || c.S3Key == ""):
		err = awserr.InvalidParameter("Both S3Bucket and S3Key are required to take the function code from Amazon S3 (got bucket %q, key %q).", c.S3Bucket, c.S3Key)
	case c.S3ObjectVersion != "" && c.S3ObjectVersion != "null":
		err = awserr.InvalidParameter("S3ObjectVersion is not supported by the local Lambda: its S3 store keeps one version of each object. Leave S3ObjectVersion out.")
	case c.S3ObjectStorageMode != "" && c.S3ObjectStorageMode != "COPY":
		err = awserr.InvalidParameter("S3ObjectStorageMode %s is not supported by the local Lambda; it copies the object (COPY).", c.S3ObjectStorageMode)
	}
	if err != nil || !hasZip {
		c.zip.abort()
	}
	if err != nil {
		return nil, err
	}
	sp := c.zip
	if hasS3 {
		if sp, err = cp.copyObject(c.S3Bucket, c.S3Key); err != nil {
			return nil, err
		}
	}
	pkg, err := sp.finish()
	if err != nil {
		return nil, fmt.Errorf("store the uploaded package: %w", err)
	}
	zr, err := zip.OpenReader(pkg.path)
	if err != nil {
		pkg.discard()
		return nil, awserr.InvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
	}
	zr.Close()
	if total > maxUnzippedSize {
		pkg.discard()
		return nil, awserr.InvalidParameter("Unzipped size must be smaller than %d bytes", maxUnzippedSize)
	}
	return pkg, nil
}

// copyObject copies an object of the S3 store into a spool.
func (cp *Plane) copyObject(bucket, key string) (*spool, error) {
	rc, _, err := cp.objects.OpenObject(bucket, key, maxUnzippedSize)
	switch {
	case errors.Is(err, s3.ErrNoSuchBucket):
		return nil, awserr.InvalidParameter("Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist (bucket %q, key %q in the local Lambda's S3 store).", bucket, key)
	case errors.Is(err, s3.ErrNoSuchKey):
		return nil, awserr.InvalidParameter("Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist (bucket %q, key %q in the local Lambda's S3 store).", bucket, key)
	case err != nil:
		return nil, awserr.InvalidParameter("Error occurred while GetObject (bucket %q, key %q): %v", bucket, key, err)
	}
	defer rc.Close()
	sp, err := cp.newSpool()
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(sp, rc); err != nil {
		sp.abort()
		return nil, fmt.Errorf("copy s3://%s/%s: %w", bucket, key, err)
	}
	return sp, nil
}

// spool is a package being written to a file of the temporary directory
// (tmpRel), hashed as it is written. Its methods accept a nil spool.
type spool struct {
	f *os.File
	h hash.Hash
	n int64
}

// tmpRel is the directory, under the data directory, of packages being
// uploaded; Open empties it.
const tmpRel = "tmp"

func (cp *Plane) newSpool() (*spool, error) {
	f, err := os.CreateTemp(cp.abs(tmpRel), "package-*.zip")
	if err != nil {
		return nil, fmt.Errorf("store the uploaded package: %w", err)
	}
	return &spool{f: f, h: sha256.New()}, nil
}

func (s *spool) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	return n, err
}

// reset empties the spool, for a request that sends ZipFile twice.
func (s *spool) reset() error {
	s.h.Reset()
	s.n = 0
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	_, err := s.f.Seek(0, io.SeekStart)
	return err
}

// finish closes the file, synced, and returns it as a package.
func (s *spool) finish() (*codePackage, error) {
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(s.f.Name())
		return nil, err
	}
	sum := s.h.Sum(nil)
	return &codePackage{path: s.f.Name(), size: s.n, sha256: base64.StdEncoding.EncodeToString(sum), hex: hex.EncodeToString(sum)}, nil
}

// abort closes and removes the file.
func (s *spool) abort() {
	if s != nil {
		s.f.Close()
		_ = os.Remove(s.f.Name())
	}
}

// abs turns a path relative to the data directory into an absolute one.
func (cp *Plane) abs(rel string) string { return filepath.Join(cp.cfg.DataDir, rel) }

func functionDirRel(name, id string) string { return filepath.Join("functions", name, id) }

// codeDirRel is where a package of that CodeSha256 (base64) is unpacked:
// one directory per content, shared by every version of the function with
// that code.
func codeDirRel(name, id, codeSha256 string) string {
	return filepath.Join(functionDirRel(name, id), "code", contentName(codeSha256))
}

// contentName is a CodeSha256 as a file name: hexadecimal.
func contentName(codeSha256 string) string {
	sum, err := base64.StdEncoding.DecodeString(codeSha256)
	if err != nil || len(sum) != sha256.Size {
		// Not a SHA-256 (never, for a package this plane stored); a name
		// of its own, so it shares nothing.
		return "x" + hex.EncodeToString([]byte(codeSha256))
	}
	return hex.EncodeToString(sum)
}

// isContentDir reports whether a code directory is named by its content
// (codeDirRel), rather than by a UUID as earlier builds named them.
func isContentDir(rel string) bool {
	b := filepath.Base(rel)
	if len(b) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(b)
	return err == nil
}

// pins protect files that are written but not yet referenced by the model
// (a package stored before its CreateFunction or UpdateFunctionCode
// commits) from the garbage collector.
type pins struct {
	mu  sync.Mutex
	set map[string]int
}

func (p *pins) pin(rel string) (unpin func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.set == nil {
		p.set = map[string]int{}
	}
	p.set[rel]++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.set[rel]--; p.set[rel] <= 0 {
				delete(p.set, rel)
			}
		})
	}
}

// storeZip moves a package under the function's directory (once per
// content: a package already there stays, and pkg's file is left to
// discard) and pins it until unpin is called, which the caller does after
// its change to the model committed or failed.
func (cp *Plane) storeZip(name, id string, pkg *codePackage) (rel string, unpin func(), err error) {
	rel = filepath.Join(functionDirRel(name, id), "zips", pkg.hex+".zip")
	dirUnpin := cp.pins.pin(functionDirRel(name, id))
	zipUnpin := cp.pins.pin(rel)
	unpin = func() { zipUnpin(); dirUnpin() }
	path := cp.abs(rel)
	if _, err := os.Stat(path); err == nil {
		return rel, unpin, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		unpin()
		return "", nil, err
	}
	// The file was synced when it was written (spool.finish).
	if err := os.Rename(pkg.path, path); err != nil {
		unpin()
		return "", nil, err
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		unpin()
		return "", nil, err
	}
	return rel, unpin, nil
}

// referencedFiles lists the package files fn's records use.
func referencedFiles(fn *lambdaFunction) map[string]bool {
	refs := map[string]bool{}
	add := func(v *functionVersion) {
		if v != nil {
			refs[v.CodeZip] = true
			refs[v.CodeDir] = true
		}
	}
	add(fn.Latest)
	add(fn.Running)
	for _, v := range fn.Versions {
		add(v)
	}
	return refs
}

// collectFunctionGarbage removes the files under functions/NAME that no
// record references: old incarnations, replaced $LATEST code, deleted
// versions. Pinned files stay.
func (cp *Plane) collectFunctionGarbage(name string) {
	cp.st.mu.RLock()
	defer cp.st.mu.RUnlock()
	if cp.st.loaded() != nil {
		return // an empty model is no reason to remove anything
	}
	cp.collectFunctionGarbageLocked(name, cp.st.m.Functions[name])
}

func (cp *Plane) collectFunctionGarbageLocked(name string, fn *lambdaFunction) {
	cp.pins.mu.Lock()
	defer cp.pins.mu.Unlock()
	root := filepath.Join("functions", name)
	ids, _ := os.ReadDir(cp.abs(root))
	for _, idEntry := range ids {
		idRel := filepath.Join(root, idEntry.Name())
		if cp.pins.set[idRel] > 0 {
			continue
		}
		if fn == nil || idEntry.Name() != fn.ID {
			cp.removeAll(idRel)
			continue
		}
		refs := referencedFiles(fn)
		for _, sub := range []string{"zips", "code"} {
			entries, _ := os.ReadDir(cp.abs(filepath.Join(idRel, sub)))
			for _, e := range entries {
				rel := filepath.Join(idRel, sub, e.Name())
				if !refs[rel] && cp.pins.set[rel] == 0 {
					cp.removeAll(rel)
				}
			}
		}
	}
	if fn == nil {
		_ = os.Remove(cp.abs(root)) // only if empty
	}
}

// collectGarbage runs collectFunctionGarbage for every function directory.
func (cp *Plane) collectGarbage() error {
	names, err := os.ReadDir(cp.abs("functions"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range names {
		cp.collectFunctionGarbage(n.Name())
	}
	return nil
}

func (cp *Plane) removeAll(rel string) {
	if rel == "" || strings.HasPrefix(rel, "..") {
		return
	}
	if err := os.RemoveAll(cp.abs(rel)); err != nil {
		cp.log.Warn("local lambda: remove unreferenced function files", "path", cp.abs(rel), "err", err)
	}
}

// codeZipPath finds the package file behind a GetFunction Code.Location.
func (cp *Plane) codeZipPath(name, hexName string) (string, bool) {
	cp.st.mu.RLock()
	defer cp.st.mu.RUnlock()
	if cp.st.loaded() != nil {
		return "", false
	}
	fn := cp.st.m.Functions[name]
	if fn == nil {
		return "", false
	}
	for rel := range referencedFiles(fn) {
		if filepath.Base(rel) == hexName+".zip" && strings.Contains(rel, string(filepath.Separator)+"zips"+string(filepath.Separator)) {
			return cp.abs(rel), true
		}
	}
	return "", false
}
