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

// version is the binary's version.
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (a *app) newVersionCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version; with --verbose, also the server's",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.stdout, "sluice %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
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
