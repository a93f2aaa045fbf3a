package awsclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStagesSection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "sluice.yaml")
	load := func(yaml string) (Config, error) {
		if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return LoadConfig(cfgPath)
	}

	// Relative to the file, not to the working directory.
	cfg, err := load("stages:\n  zipFileRoot: packages\n")
	if err != nil || cfg.Stages.ZipFileRoot != filepath.Join(dir, "packages") {
		t.Errorf("zipFileRoot: packages → %q, %v; want %s", cfg.Stages.ZipFileRoot, err, filepath.Join(dir, "packages"))
	}
	abs := filepath.Join(dir, "packages")
	if cfg, err := load("stages: {zipFileRoot: " + abs + "}\n"); err != nil || cfg.Stages.ZipFileRoot != abs {
		t.Errorf("an absolute zipFileRoot → %q, %v", cfg.Stages.ZipFileRoot, err)
	}
	if cfg, err := load("accounts: []\n"); err != nil || cfg.Stages.ZipFileRoot != "" {
		t.Errorf("no stages section → %q, %v; want none", cfg.Stages.ZipFileRoot, err)
	}

	for yaml, want := range map[string]string{
		"stages: {zipFileRoot: missing}\n":     "stages.zipFileRoot missing: ",
		"stages: {zipFileRoot: sluice.yaml}\n": "is not a directory",
		"stages: {zipfileroot: packages}\n":    `stages: unknown field "zipfileroot" (known fields: zipFileRoot)`,
		"stages: {zipFileRoot: [a]}\n":         "stages.zipFileRoot must be a string",
		"stages: packages\n":                   "stages must be an object with zipFileRoot",
	} {
		if _, err := load(yaml); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), cfgPath) {
			t.Errorf("%q: error %v; want one naming the file and saying %q", yaml, err, want)
		}
	}
}
