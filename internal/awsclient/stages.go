package awsclient

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StagesConfig is the "stages" section of sluice.yaml:
//
//	stages:
//	  zipFileRoot: /srv/sluice/packages
type StagesConfig struct {
	// ZipFileRoot is the directory whose files the Lambda stages' zipFile
	// field may name: a path relative to it, or an absolute path inside
	// it; nothing outside it is read, through ".." or a symbolic link
	// either. Empty (the default for `sluice serve`): zipFile is refused,
	// so that a pipeline cannot read whatever the server can. A relative
	// ZipFileRoot is taken from the directory of sluice.yaml; LoadConfig
	// makes it absolute and checks that it is a directory.
	ZipFileRoot string `json:"zipFileRoot,omitempty"`
}

func parseStages(v any) (StagesConfig, []error) {
	if v == nil {
		return StagesConfig{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return StagesConfig{}, []error{errors.New("stages must be an object with zipFileRoot")}
	}
	var cfg StagesConfig
	var errs []error
	for k, v := range m {
		s, ok := v.(string)
		switch {
		case k != "zipFileRoot":
			errs = append(errs, fmt.Errorf("stages: unknown field %q (known fields: zipFileRoot)", k))
		case !ok && v != nil:
			errs = append(errs, errors.New("stages.zipFileRoot must be a string: the directory the Lambda stages' zipFile may read from"))
		default:
			cfg.ZipFileRoot = s
		}
	}
	return cfg, errs
}

// resolve makes ZipFileRoot absolute, taking a relative one from dir, and
// checks that it is a directory.
func (c *StagesConfig) resolve(dir string) error {
	if c.ZipFileRoot == "" {
		return nil
	}
	root := c.ZipFileRoot
	if !filepath.IsAbs(root) {
		root = filepath.Join(dir, root)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("stages.zipFileRoot %s: %w", c.ZipFileRoot, err)
	}
	fi, err := os.Stat(root)
	switch {
	case err != nil:
		return fmt.Errorf("stages.zipFileRoot %s: %w; create the directory or correct the path", c.ZipFileRoot, err)
	case !fi.IsDir():
		return fmt.Errorf("stages.zipFileRoot %s is not a directory; name the directory that holds your .zip files", c.ZipFileRoot)
	}
	c.ZipFileRoot = root
	return nil
}
