package cli

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion is set at link time:
//
//	go build -ldflags "-X github.com/sluice-cd/sluice/internal/cli.buildVersion=v1.2.3"
//
// When empty, the main module's version from the build info is used.
var buildVersion string

// version is the binary's version, without the commit (the User-Agent and
// the server's /health carry this).
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// versionLine is what `sluice version` and `sluice --version` print:
// the version, the commit it was built from and whether the tree had
// uncommitted changes (when the go command recorded them), the Go
// version and the platform.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(version(), bi, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// describeBuild formats a version line from build info, which may be nil.
// A binary built in a Git checkout has vcs.revision and vcs.modified; one
// built with go install …@version or by go test has neither, and its line
// says the commit is unknown.
func describeBuild(version string, bi *debug.BuildInfo, goVersion, platform string) string {
	var rev, modified string
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	commit := "commit unknown"
	if rev != "" {
		commit = "commit " + rev[:min(len(rev), 12)]
		if modified == "true" {
			commit += " with uncommitted changes"
		}
	}
	return fmt.Sprintf("sluice %s (%s, %s %s)", version, commit, goVersion, platform)
}

func (a *app) newVersionCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit; with --verbose, also the server's",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(a.stdout, versionLine())
			if !verbose {
				return nil
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			h, err := c.Health(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "server          %s\n", c.BaseURL())
			fmt.Fprintf(a.stdout, "  version       %s\n", h.Version)
			fmt.Fprintf(a.stdout, "  status        %s\n", h.Status)
			fmt.Fprintf(a.stdout, "  database      %s\n", h.Database)
			fmt.Fprintf(a.stdout, "  local lambda  %s\n", cmp.Or(h.LocalLambdaURL, "-"))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also print the server's version, database and local Lambda URL")
	return cmd
}
