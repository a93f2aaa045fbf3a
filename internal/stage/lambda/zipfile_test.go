package lambda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadZipFileStaysInRoot: zipFile names a file under the configured
// directory, and nothing else: not without a directory, not outside it by
// an absolute path, "..", or a symbolic link.
func TestReadZipFileStaysInRoot(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "packages")
	for _, d := range []string{root, filepath.Join(root, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "fn.zip"), "PK inside")
	write(filepath.Join(root, "sub", "fn.zip"), "PK deeper")
	secret := filepath.Join(parent, "secret.zip")
	write(secret, "PK outside")
	if err := os.Symlink(secret, filepath.Join(root, "link.zip")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(parent, filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		root, name string
		want       string // content, or a piece of the error
		ok         bool
	}{
		{root, "fn.zip", "PK inside", true},
		{root, "sub/fn.zip", "PK deeper", true},
		{root, "sub/../fn.zip", "PK inside", true},
		{root, filepath.Join(root, "sub", "fn.zip"), "PK deeper", true},
		{"", filepath.Join(root, "fn.zip"), "set stages.zipFileRoot in sluice.yaml", false},
		{root, "../secret.zip", "leads outside stages.zipFileRoot", false},
		{root, "sub/../../secret.zip", "leads outside stages.zipFileRoot", false},
		{root, secret, "not inside stages.zipFileRoot", false},
		{root, "/etc/passwd", "not inside stages.zipFileRoot", false},
		{root, "link.zip", "leads outside stages.zipFileRoot", false},
		{root, "up/secret.zip", "leads outside stages.zipFileRoot", false},
		{root, "missing.zip", "no such file", false},
		{root, "sub", "is not a file", false},
	}
	for _, tt := range tests {
		b, err := readZipFile(tt.root, tt.name)
		switch {
		case tt.ok && (err != nil || string(b) != tt.want):
			t.Errorf("readZipFile(%q, %q) = %q, %v; want %q", tt.root, tt.name, b, err, tt.want)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("readZipFile(%q, %q) = %q, %v; want an error saying %q", tt.root, tt.name, b, err, tt.want)
		case !tt.ok && !strings.Contains(err.Error(), "zipFile"):
			t.Errorf("readZipFile(%q, %q): error %q does not name the zipFile field", tt.root, tt.name, err)
		}
	}
}

// TestDeployZipFile: a Deploy stage with zipFile fails on a server that
// configured no directory for it, saying how to allow it, and deploys
// from a file inside the one configured.
func TestDeployZipFile(t *testing.T) {
	t.Parallel()
	e := newLocalEnv(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello.zip"), helloZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	fields := deployFields("zipped", "", map[string]any{"s3bucket": nil, "s3key": nil, "zipFile": "hello.zip"})
	delete(fields, "s3bucket")
	delete(fields, "s3key")

	msg := newStageRun(t, typeOf(t, e.accounts, DeployTypeName), "", fields).mustFail()
	if !strings.Contains(msg, "zipFile") || !strings.Contains(msg, "stages.zipFileRoot") {
		t.Errorf("Deploy with zipFile and no zipFileRoot: %q; want it to name zipFile and stages.zipFileRoot", msg)
	}
	out := newStageRun(t, typeWithZipFileRoot(t, e.accounts, DeployTypeName, root), "", fields).mustSucceed()
	if out["functionName"] != "zipped" {
		t.Errorf("outputs = %v", out)
	}
}
