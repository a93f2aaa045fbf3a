package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/examples"
	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/httpserve"
	"github.com/sluice-cd/sluice/internal/node"
	"github.com/sluice-cd/sluice/internal/status"
)

// The demo releases examples/functions/hello twice with this pipeline.
const (
	demoFile        = "pipelines/canary-release.json"
	demoApplication = "hello"
	demoPipeline    = "canary-release"
	demoFunction    = "hello-api"
	demoAlias       = "live"
	demoBucket      = "sluice-demo"
	demoKey         = "hello.zip"
	demoJudgment    = "Promote?"
	demoCanary      = "Canary 10%"
)

type demoOptions struct {
	Yes         bool
	Rollback    bool
	FailureRate float64
	DataDir     string
	Addr        string
	Source      string // the Sluice source tree holding examples/functions/hello
}

func (a *app) newDemoCmd() *cobra.Command {
	var opts demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a canary release of a Lambda function on the embedded local Lambda",
		Long: `Run a canary release from start to finish with no AWS account, database server or
anything else to start: an embedded server with the local Lambda, in its own data
directory (a temporary one unless --data-dir is given).

The demo builds examples/functions/hello (run it from a Sluice checkout; it needs the
Go toolchain), uploads it to the local S3 and runs examples/pipelines/canary-release.json
twice: v1 goes straight to 100% of the alias hello-api:live; v2 gets 10% of it while
live traffic flows, so the split shows in the local Lambda's metrics. At the manual
judgment it promotes with --yes, rolls back with --rollback, and otherwise prints the
console URL and the command that judges it, and waits. Pipelines you apply to the demo
server may deploy a zipFile from the current directory or below it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Yes && opts.Rollback {
				return usageError("--yes and --rollback contradict each other", "give one of them, or neither to judge by hand")
			}
			if opts.FailureRate < 0 || opts.FailureRate > 1 {
				return usageError(fmt.Sprintf("--failure-rate %g is not between 0 and 1", opts.FailureRate), "for example --failure-rate 0.2")
			}
			return a.runDemo(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Yes, "yes", false, "promote at the judgment without asking")
	f.BoolVar(&opts.Rollback, "rollback", false, "roll back at the judgment without asking")
	f.Float64Var(&opts.FailureRate, "failure-rate", 0, "share of v2's invocations that fail, 0 to 1")
	f.StringVar(&opts.DataDir, "data-dir", "", "keep the demo's data here (default: a temporary directory, removed afterwards)")
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:0", "address of the embedded server and console; port 0 picks a free port")
	f.StringVar(&opts.Source, "source", "", "the Sluice checkout to build the example function from (default: the current directory or the nearest parent that is one, else $SLUICE_SOURCE)")
	return cmd
}

func (a *app) runDemo(ctx context.Context, opts demoOptions) error {
	src, err := a.sourceTree(opts.Source)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "Building examples/functions/hello …")
	zip, err := fnbuild.Zip(ctx, src, "./examples/functions/hello")
	if err != nil {
		return err
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "sluice-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Pipelines applied to the demo may deploy a zipFile from the
	// working directory (and below it), as a developer expects; a server
	// reads none unless sluice.yaml names a directory.
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("find the working directory for zipFile: %w", err)
	}
	n, err := node.Start(ctx, node.Options{DataDir: dataDir, LambdaAddr: "127.0.0.1:0", Logger: log, Version: version(), ZipFileRoot: wd})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		n.Close(stopCtx)
	}()
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	srv := httpserve.New(httpserve.Config{Handler: n.API, Logger: log, ErrorLevel: slog.LevelDebug})
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	lambdaURL := n.LocalLambdaURL

	local, err := n.Accounts.Get("local")
	if err != nil {
		return err
	}
	if err := uploadPackage(ctx, local.S3, zip); err != nil {
		return err
	}
	c, err := apiclient.New(url, apiclient.WithToken(n.AdminToken))
	if err != nil {
		return err
	}
	doc, err := examples.Pipelines.ReadFile(demoFile)
	if err != nil {
		return err
	}
	if _, err := c.PutPipeline(ctx, demoApplication, demoPipeline, doc, "application/json"); err != nil {
		return fmt.Errorf("apply the example pipeline: %w", err)
	}
	fmt.Fprintf(a.stdout, "Sluice demo: server and console at %s, local Lambda at %s, data in %s\n", url, lambdaURL, dataDir)
	consoleLink := func(next string) string {
		link, err := n.LoginLink(ctx)
		if err != nil {
			return url + next // the console asks to sign in
		}
		return url + link + "&next=" + next
	}
	fmt.Fprintf(a.stdout, "Uploaded hello.zip to s3://%s/%s and applied %s/%s (examples/%s).\n", demoBucket, demoKey, demoApplication, demoPipeline, demoFile)

	fmt.Fprintln(a.stdout, "\nRelease v1 (the first release goes straight to 100%):")
	first, err := a.runDemoRelease(ctx, c, nil, "v1", 0, opts, url, lambdaURL, consoleLink)
	if err != nil {
		return err
	}
	if first.Status != status.Succeeded {
		return executionExit(first)
	}

	fmt.Fprintln(a.stdout, "\nRelease v2 as a canary:")
	tr := sendTraffic(ctx, local.Lambda, demoFunction, demoAlias, 100)
	defer tr.close()
	second, err := a.runDemoRelease(ctx, c, tr, "v2", opts.FailureRate, opts, url, lambdaURL, consoleLink)
	if err != nil {
		return err
	}
	tr.close()
	fmt.Fprintf(a.stdout, "\nExecution %s %s; live traffic sent %d invokes (%d errors).\n", second.ID, second.Status, tr.invokes.Load(), tr.errors.Load())
	if err := printFunctionState(ctx, a, local.Lambda); err != nil {
		return err
	}
	return executionExit(second)
}

// sourceTree finds the Sluice checkout the demo builds its function from.
func (a *app) sourceTree(given string) (string, error) {
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "examples", "functions", "hello", "main.go"))
		return err == nil
	}
	if given != "" {
		if !has(given) {
			return "", usageError(fmt.Sprintf("--source %s has no examples/functions/hello", given), "give the root of a Sluice checkout")
		}
		return given, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			if has(dir) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if env := a.getenv("SLUICE_SOURCE"); env != "" && has(env) {
		return env, nil
	}
	return "", &exitError{code: ExitFailed, err: errors.New("the demo builds examples/functions/hello and cannot find it"),
		hint: "run it from a Sluice checkout (go run ./cmd/sluice demo), or give --source"}
}

// uploadPackage puts the function's zip in the local S3, as a build job
// would put an artifact.
func uploadPackage(ctx context.Context, c *s3.Client, zip []byte) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(demoBucket)}); err != nil &&
		!strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") && !strings.Contains(err.Error(), "BucketAlreadyExists") {
		return fmt.Errorf("create bucket %s in the local S3: %w", demoBucket, err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demoBucket), Key: aws.String(demoKey), Body: bytes.NewReader(zip)}); err != nil {
		return fmt.Errorf("upload %s to the local S3: %w", demoKey, err)
	}
	return nil
}

// runDemoRelease runs the pipeline for one version, printing its events,
// and answers the judgment as the options say.
func (a *app) runDemoRelease(ctx context.Context, c *apiclient.Client, tr *traffic, version string, failureRate float64, opts demoOptions, url, lambdaURL string, consoleLink func(next string) string) (*apitype.Execution, error) {
	exec, err := c.Trigger(ctx, demoApplication, demoPipeline, apitype.TriggerRequest{Parameters: map[string]any{
		"version": version, "failureRate": strconv.FormatFloat(failureRate, 'g', -1, 64),
	}})
	if err != nil {
		return nil, err
	}
	stages := map[string]apitype.Stage{}
	for _, s := range exec.Stages {
		stages[s.ID] = s
	}
	start := time.Now()
	var waited time.Duration // time spent at the judgment, not counted as pipeline time
	var final *apitype.Execution
	err = c.FollowExecution(ctx, exec.ID, func(ev apitype.Event) error {
		fmt.Fprintln(a.stdout, "  "+formatEvent(ev, stages))
		switch ev.Type {
		case apitype.EventStageStatus:
			var data apitype.StageStatusData
			if json.Unmarshal(ev.Data, &data) != nil || data.Name != demoJudgment || data.Status != status.Running {
				return nil
			}
			judged := time.Now()
			err := a.demoJudge(ctx, c, exec.ID, url, lambdaURL, opts, consoleLink)
			waited = time.Since(judged)
			return err
		case apitype.EventExecutionStatus:
			var data apitype.ExecutionStatusData
			if json.Unmarshal(ev.Data, &data) != nil || !data.Status.Complete() {
				return nil
			}
			e, err := c.GetExecution(ctx, exec.ID)
			if err != nil {
				return err
			}
			final = e
			return apiclient.ErrStopFollowing
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if final == nil {
		return nil, errors.New("the event stream ended before the execution completed")
	}
	fmt.Fprintf(a.stdout, "  → %s in %s (judgment wait excluded)\n", final.Status, (time.Since(start) - waited).Round(time.Millisecond))
	return final, nil
}

// demoJudge shows the canary's traffic and then judges, or asks a person.
func (a *app) demoJudge(ctx context.Context, c *apiclient.Client, id, url, lambdaURL string, opts demoOptions, consoleLink func(next string) string) error {
	// Let the live traffic show the split before deciding.
	timer := time.NewTimer(3 * time.Second)
	select {
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	split, err := trafficSplit(ctx, lambdaURL, demoFunction, demoAlias, 5*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "  traffic through %s:%s in the last 5 s: %s\n", demoFunction, demoAlias, split)
	input := ""
	switch {
	case opts.Yes:
		input = "promote"
	case opts.Rollback:
		input = "rollback"
	default:
		fmt.Fprintf(a.stdout, `
  The canary waits for a person. Judge it in the console (this link signs you in once):
    %[4]s
  or in another terminal:
    sluice judge %[1]s %[2]q continue --input promote --server %[3]s
    sluice judge %[1]s %[2]q continue --input rollback --server %[3]s

`, id, demoJudgment, url, consoleLink("/executions/"+id))
		return nil
	}
	fmt.Fprintf(a.stdout, "  → judging %q: continue with %q\n", demoJudgment, input)
	_, err = c.Judge(ctx, id, demoJudgment, apitype.JudgmentRequest{Status: apitype.JudgmentContinue, Input: input})
	return err
}

// printFunctionState prints the alias's routing and the versions left.
func printFunctionState(ctx context.Context, a *app, c *lambda.Client) error {
	alias, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(demoFunction), Name: aws.String(demoAlias)})
	if err != nil {
		return fmt.Errorf("read alias %s:%s: %w", demoFunction, demoAlias, err)
	}
	routing := fmt.Sprintf("version %s", aws.ToString(alias.FunctionVersion))
	if alias.RoutingConfig != nil && len(alias.RoutingConfig.AdditionalVersionWeights) > 0 {
		for v, w := range alias.RoutingConfig.AdditionalVersionWeights {
			routing = fmt.Sprintf("version %s %.0f%% · version %s %.0f%%", aws.ToString(alias.FunctionVersion), 100*(1-w), v, 100*w)
		}
	} else {
		routing += " 100%"
	}
	fmt.Fprintf(a.stdout, "Alias %s:%s routes %s.\n", demoFunction, demoAlias, routing)
	var versions []string
	p := lambda.NewListVersionsByFunctionPaginator(c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(demoFunction)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list versions of %s: %w", demoFunction, err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Version) != "$LATEST" {
				versions = append(versions, fmt.Sprintf("%s (%s)", aws.ToString(v.Version), aws.ToString(v.Description)))
			}
		}
	}
	fmt.Fprintf(a.stdout, "Published versions left: %s.\n", strings.Join(versions, ", "))
	return nil
}
