package control

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/s3"
)

// Function packages on disk, under the data directory:
//
//	functions/NAME/ID/zips/HEX.zip   a package as uploaded, once per content (HEX = its SHA-256)
//	functions/NAME/ID/code/UUID/     a package unpacked: one per $LATEST code change and one per
//	                                 published version, never written once unpacked
//
// ID is the function's incarnation: deleting a function and creating
// another of the same name never mixes their files. Files no record
// references are removed after activations and deletes, and at start-up.

// maxUnzippedSize is AWS's limit on a function's unpacked size.
const maxUnzippedSize = 262144000

// functionCode is the Code member of CreateFunction (and, flattened, of
// UpdateFunctionCode).
type functionCode struct {
	ZipFile             []byte `json:"ZipFile"`
	S3Bucket            string `json:"S3Bucket"`
	S3Key               string `json:"S3Key"`
	S3ObjectVersion     string `json:"S3ObjectVersion"`
	ImageUri            string `json:"ImageUri"`
	SourceKMSKeyArn     string `json:"SourceKMSKeyArn"`
	S3ObjectStorageMode string `json:"S3ObjectStorageMode"`
}

// codePackage is a validated deployment package.
type codePackage struct {
	zip    []byte
	sha256 string // base64 of the SHA-256, as CodeSha256
	hex    string
}

// loadPackage gets a function's package from the request — inline, or from
// the embedded S3 store (read directly, not over HTTP) — and checks it as
// AWS does at the call: a readable zip within the unzipped-size limit.
func (cp *Plane) loadPackage(c functionCode) (*codePackage, error) {
	hasZip := len(c.ZipFile) > 0
	hasS3 := c.S3Bucket != "" || c.S3Key != "" || c.S3ObjectVersion != ""
	switch {
	case c.ImageUri != "":
		return nil, awserr.InvalidParameter("Container images (ImageUri, PackageType Image) are not supported by the local Lambda: deploy a .zip package with ZipFile or S3Bucket/S3Key.")
	case hasZip && hasS3:
		return nil, awserr.InvalidParameter("Please provide the function code either as ZipFile or as S3Bucket and S3Key, not both.")
	case !hasZip && !hasS3:
		return nil, awserr.InvalidParameter("Please provide the function code: ZipFile, or S3Bucket and S3Key.")
	case hasS3 && (c.S3Bucket == "" || c.S3Key == ""):
		return nil, awserr.InvalidParameter("Both S3Bucket and S3Key are required to take the function code from Amazon S3 (got bucket %q, key %q).", c.S3Bucket, c.S3Key)
	case c.S3ObjectVersion != "" && c.S3ObjectVersion != "null":
		return nil, awserr.InvalidParameter("S3ObjectVersion is not supported by the local Lambda: its S3 store keeps one version of each object. Leave S3ObjectVersion out.")
	case c.S3ObjectStorageMode != "" && c.S3ObjectStorageMode != "COPY":
		return nil, awserr.InvalidParameter("S3ObjectStorageMode %s is not supported by the local Lambda; it copies the object (COPY).", c.S3ObjectStorageMode)
	}
	b := c.ZipFile
	if hasS3 {
		var err error
		b, err = cp.objects.ReadObject(c.S3Bucket, c.S3Key, maxUnzippedSize)
		switch {
		case errors.Is(err, s3.ErrNoSuchBucket):
			return nil, awserr.InvalidParameter("Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist (bucket %q, key %q in the local Lambda's S3 store).", c.S3Bucket, c.S3Key)
		case errors.Is(err, s3.ErrNoSuchKey):
			return nil, awserr.InvalidParameter("Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist (bucket %q, key %q in the local Lambda's S3 store).", c.S3Bucket, c.S3Key)
		case err != nil:
			return nil, awserr.InvalidParameter("Error occurred while GetObject (bucket %q, key %q): %v", c.S3Bucket, c.S3Key, err)
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, awserr.InvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
	}
	if total > maxUnzippedSize {
		return nil, awserr.InvalidParameter("Unzipped size must be smaller than %d bytes", maxUnzippedSize)
	}
	sum := sha256.Sum256(b)
	return &codePackage{zip: b, sha256: base64.StdEncoding.EncodeToString(sum[:]), hex: hex.EncodeToString(sum[:])}, nil
}

// abs turns a path relative to the data directory into an absolute one.
func (cp *Plane) abs(rel string) string { return filepath.Join(cp.cfg.DataDir, rel) }

func functionDirRel(name, id string) string { return filepath.Join("functions", name, id) }

func newCodeDirRel(name, id string) string {
	return filepath.Join(functionDirRel(name, id), "code", uuid.NewString())
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

// storeZip writes a package under the function's directory (once per
// content) and pins it until unpin is called, which the caller does after
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
	if err := atomicfile.Write(path, pkg.zip); err != nil {
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
