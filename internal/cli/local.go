package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluice-cd/sluice/internal/node"
	"github.com/spf13/cobra"
)

func (a *app) newLocalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "The embedded AWS-compatible local Lambda",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	cmd.AddCommand(a.newLocalServeCmd())
	return cmd
}

func (a *app) newLocalServeCmd() *cobra.Command {
	var (
		addr, dataDir, logLevel, configPath, edgeAddr string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run only the local Lambda (and its S3) for the AWS SDKs and CLI",
		Long: `Run the local Lambda on its own: the AWS Lambda REST API (2015-03-31) and an
S3-compatible endpoint on one loopback port, running real function packages as local
processes. Point any AWS client at it, with any credentials and a region (it checks
that requests are signed, and verifies the signature only for the access key given
in --config's local.credentials):

  export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1
  aws lambda list-functions --endpoint-url http://` + node.DefaultLambdaAddr + `
  aws s3 mb s3://artifacts --endpoint-url http://` + node.DefaultLambdaAddr + `

It refuses whatever a web page can send. Functions run with your user's rights: the
local Lambda is for development and tests, not a sandbox. The same port answers
CloudFront's API (aws cloudfront … --endpoint-url); --edge-addr serves its distributions. 'sluice serve' runs the same endpoint alongside the API.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level, err := parseLogLevel(logLevel)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			ctx := cmd.Context()
			srv, err := node.StartLocalLambda(ctx, dataDir, addr, configPath, log)
			if err != nil {
				return err
			}
			defer srv.Close()
			fmt.Fprintf(a.stdout, "local lambda: %s (data in %s)\n", srv.URL(), dataDir)
			if edgeAddr != "" {
				edge, err := srv.StartEdge(ctx, edgeAddr)
				if err != nil {
					return fmt.Errorf("start the local CloudFront edge proxy on %s: %w (choose a free loopback address; 127.0.0.1:0 picks a port)", edgeAddr, err)
				}
				fmt.Fprintf(a.stdout, "local cloudfront edge proxy: http://%s (Host: ID.cloudfront.localhost)\n", edge)
			}
			<-ctx.Done()
			log.Info("shutting down", "cause", context.Cause(ctx))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", node.DefaultLambdaAddr, "loopback address to listen on; port 0 picks a free port")
	f.StringVar(&dataDir, "data-dir", ".sluice/lambda", "directory for functions, versions, code and S3 objects")
	f.StringVar(&configPath, "config", "", "sluice.yaml whose local section the local Lambda takes: credentials it verifies signatures with (any signature is accepted without), concurrentExecutions (default: what half this machine's memory holds)")
	f.StringVar(&edgeAddr, "edge-addr", "", "loopback address of the CloudFront edge proxy, which serves the local CloudFront's distributions and runs their Lambda@Edge functions (docs/local-edge.md); none when empty")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
