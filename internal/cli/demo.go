package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
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
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/httpserve"
	"github.com/sluice-cd/sluice/internal/node"
	"github.com/sluice-cd/sluice/internal/status"
)

// The demo releases examples/functions/hello twice with one of these
// pipelines: canary-release when a person judges (or --rollback),
// progressive-release when Sluice's analysis does (--yes, --bad).
const (
	demoApplication = "hello"
	demoManual      = "canary-release"
	demoProgressive = "progressive-release"
	demoFunction    = "hello-api"
	demoAlias       = "live"
	demoBucket      = "sluice-demo"
	demoKey         = "hello.zip"
	demoJudgment    = "Promote?"
	demoCanary      = "Canary 10%"
	demoShift       = "Progressive release"
	demoAnalysis    = "Canary analysis"
	demoCanaryCfg   = "canary-configs/lambda-errors-latency.json"
	// --bad's v2 fails this share of its invocations and takes this long
	// (the pipelines' default is 5 ms).
	badFailureRate = 0.3
	badLatencyMs   = 30
)

type demoOptions struct {
	Yes      bool
	Rollback bool
	Bad      bool
	// Queue runs the queue-consumer canary (demo_queue.go) instead.
	Queue       bool
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

The demo builds examples/functions/hello from the Sluice checkout it runs in (or
--source, or $SLUICE_SOURCE) with the Go toolchain; away from a checkout, an installed
sluice packages itself as the function instead. It uploads it to the local S3, saves the
canary config
examples/canary-configs/lambda-errors-latency.json and releases the function twice while
live traffic flows through the alias hello-api:live: v1 goes straight to 100%, v2 is the
canary.

With --yes, v2 is released by examples/pipelines/progressive-release.json: Sluice shifts
10%, then 50%, then all of the traffic to it, judging it against v1 at each step with the
canary config, and promotes it with no person involved. With --bad, v2 fails 30% of its
requests and takes 30 ms instead of 5: the analysis catches it, Sluice puts the alias back on v1
by itself, deletes v2 and prints why.

With --queue, the function released is a queue consumer instead
(examples/functions/queue-consumer, built from the checkout): the demo creates the queue
orders and its dead-letter queue orders-dlq in the local SQS, releases v1 with
examples/pipelines/queue-consumer-canary.json (whose first release creates the queue's
event source mapping on the alias orders-consumer:live), then releases v2 10%, then 100%,
while it publishes 50 messages a second to the queue; the canary config
lambda-consumer-messages judges v2 on the share of messages it fails. It prints what each
version processed and failed, and checks that every message published was processed or
is in the dead-letter queue. With --queue --bad, v2 fails 30% of its messages, and Sluice
rolls it back.

With none of these, v2 is released by examples/pipelines/canary-release.json: it gets 10% of
the traffic, Sluice's canary analysis judges it, and a person decides at the manual
judgment with the analysis in front of them — the demo asks in the terminal, and prints
the console URL and the command that judges it; --rollback rolls back there without asking. Pipelines
you apply to the demo server may deploy a zipFile from the current directory or below it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := countTrue(opts.Yes, opts.Rollback, opts.Bad); n > 1 {
				return usageError("--yes, --rollback and --bad contradict each other", "give one of them, or none to judge by hand")
			}
			if opts.Queue && opts.Rollback {
				return usageError("--queue has no manual judgment to roll back at", "give --queue alone (Sluice's analysis promotes) or with --bad (it rolls back)")
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
	f.BoolVar(&opts.Bad, "bad", false, "release a v2 that fails 30% of its requests and is slower; Sluice's analysis rolls it back")
	f.BoolVar(&opts.Queue, "queue", false, "release a queue consumer instead (examples/pipelines/queue-consumer-canary.json) while messages flow through an SQS queue; with --bad v2 fails 30% of its messages")
	f.Float64Var(&opts.FailureRate, "failure-rate", 0, "share of v2's invocations that fail, 0 to 1")
	f.StringVar(&opts.DataDir, "data-dir", "", "keep the demo's data here (default: a temporary directory, removed afterwards)")
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:0", "address of the embedded server and console; port 0 picks a free port")
	f.StringVar(&opts.Source, "source", "", "the Sluice checkout to build the example function from (default: the current directory or the nearest parent that is one, else $SLUICE_SOURCE)")
	return cmd
}

func (a *app) runDemo(ctx context.Context, opts demoOptions) error {
	if opts.Queue {
		return a.runQueueDemo(ctx, opts)
	}
	zip, err := a.demoPackage(ctx, opts)
	if err != nil {
		return err
	}
	d, stop, err := a.startDemoNode(ctx, opts)
	if err != nil {
		return err
	}
	defer stop()
	url, lambdaURL, dataDir, local, c, consoleLink := d.url, d.lambdaURL, d.dataDir, d.local, d.client, d.consoleLink
	if err := uploadPackage(ctx, local.S3, demoKey, zip); err != nil {
		return err
	}
	cfg, err := examples.CanaryConfigs.ReadFile(demoCanaryCfg)
	if err != nil {
		return err
	}
	if _, err := c.PutCanaryConfig(ctx, "lambda-errors-latency", cfg); err != nil {
		return fmt.Errorf("save the example canary config: %w", err)
	}
	pipeline := demoManual
	if opts.Yes || opts.Bad {
		pipeline = demoProgressive
	}
	doc, err := examples.Pipelines.ReadFile("pipelines/" + pipeline + ".json")
	if err != nil {
		return err
	}
	if _, err := c.PutPipeline(ctx, demoApplication, pipeline, doc, "application/json"); err != nil {
		return fmt.Errorf("apply the example pipeline: %w", err)
	}
	fmt.Fprintf(a.stdout, "Sluice demo: server and console at %s, local Lambda at %s, data in %s\n", url, lambdaURL, dataDir)
	fmt.Fprintf(a.stdout, "Uploaded hello.zip to s3://%s/%s, saved canary config lambda-errors-latency and applied %s/%s (examples/pipelines/%[4]s.json).\n",
		demoBucket, demoKey, demoApplication, pipeline)
	rel := demoRelease{pipeline: pipeline, opts: opts, url: url, lambdaURL: lambdaURL, consoleLink: consoleLink}

	fmt.Fprintln(a.stdout, "\nRelease v1 (the first release goes straight to 100%):")
	first, err := a.runDemoRelease(ctx, c, rel, map[string]any{"version": "v1"})
	if err != nil {
		return err
	}
	if first.Status != status.Succeeded {
		return executionExit(first)
	}

	params := map[string]any{"version": "v2", "failureRate": formatFloat(opts.FailureRate)}
	if opts.Bad {
		params["failureRate"], params["latencyMs"] = formatFloat(cmp.Or(opts.FailureRate, badFailureRate)), formatFloat(badLatencyMs)
	}
	if pipeline == demoProgressive {
		fmt.Fprintln(a.stdout, "\nRelease v2 progressively, judged by Sluice's canary analysis:")
	} else {
		fmt.Fprintln(a.stdout, "\nRelease v2 as a canary:")
	}
	tr := sendTraffic(ctx, local.Lambda, demoFunction, demoAlias, 100)
	defer tr.close()
	second, err := a.runDemoRelease(ctx, c, rel, params)
	if err != nil {
		return err
	}
	tr.close()
	fmt.Fprintf(a.stdout, "\nExecution %s %s; live traffic sent %d invokes (%d errors).\n", second.ID, second.Status, tr.invokes.Load(), tr.errors.Load())
	if err := printFunctionState(ctx, a, local.Lambda, demoFunction); err != nil {
		return err
	}
	if pipeline == demoProgressive {
		return a.reportShift(second, opts.Bad)
	}
	return executionExit(second)
}

// demoNode is the demo's embedded server: a node with its local Lambda,
// its API and console on an address of their own, and an API client.
type demoNode struct {
	url, lambdaURL, dataDir string
	local                   *awsclient.Account
	client                  *apiclient.Client
	// consoleLink is a console URL that signs the reader in once.
	consoleLink func(next string) string
}

// startDemoNode starts the demo's server in opts.DataDir (a temporary
// directory unless given); stop stops it and removes the temporary
// directory.
func (a *app) startDemoNode(ctx context.Context, opts demoOptions) (d *demoNode, stop func(), err error) {
	var cleanup []func()
	stop = func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	d = &demoNode{dataDir: opts.DataDir}
	if d.dataDir == "" {
		tmp, err := os.MkdirTemp("", "sluice-demo-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = append(cleanup, func() { os.RemoveAll(tmp) })
		d.dataDir = tmp
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Pipelines applied to the demo may deploy a zipFile from the
	// working directory (and below it), as a developer expects; a server
	// reads none unless sluice.yaml names a directory.
	wd, err := os.Getwd()
	if err != nil {
		return nil, nil, fmt.Errorf("find the working directory for zipFile: %w", err)
	}
	n, err := node.Start(ctx, node.Options{DataDir: d.dataDir, LambdaAddr: "127.0.0.1:0", Logger: log, Version: version(), ZipFileRoot: wd})
	if err != nil {
		return nil, nil, err
	}
	cleanup = append(cleanup, func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		n.Close(stopCtx)
	})
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	srv := httpserve.New(httpserve.Config{Handler: n.API, Logger: log, ErrorLevel: slog.LevelDebug})
	go srv.Serve(ln)
	cleanup = append(cleanup, func() { srv.Close() })
	d.url = "http://" + ln.Addr().String()
	d.lambdaURL = n.LocalLambdaURL
	if d.local, err = n.Accounts.Get("local"); err != nil {
		return nil, nil, err
	}
	if d.client, err = apiclient.New(d.url, apiclient.WithToken(n.AdminToken)); err != nil {
		return nil, nil, err
	}
	d.consoleLink = func(next string) string {
		link, err := n.LoginLink(ctx)
		if err != nil {
			return d.url + next // the console asks to sign in
		}
		return d.url + link + "&next=" + next
	}
	return d, stop, nil
}

// reportShift says what the progressive release decided and why, and
// fails the demo when the analysis decided against what the demo set up:
// a bad v2 promoted, or a good one rolled back.
func (a *app) reportShift(e *apitype.Execution, bad bool) error {
	if err := executionExit(e); err != nil {
		return err
	}
	var shift *apitype.Stage
	for i := range e.Stages {
		if e.Stages[i].Name == demoShift {
			shift = &e.Stages[i]
		}
	}
	if shift == nil {
		return fmt.Errorf("execution %s has no stage %q", e.ID, demoShift)
	}
	var out struct {
		Rollout rollout `json:"rollout"`
	}
	_ = json.Unmarshal(shift.Outputs, &out)
	for _, h := range out.Rollout.History {
		line := fmt.Sprintf("  step %d: %v%% to v2, %s", h.Step, h.Weight, h.Outcome)
		switch a := h.Analysis; {
		case a == nil || a.Decision == nil:
		case a.Decision.Score != nil:
			line += fmt.Sprintf(", canary score %v", *a.Decision.Score)
		default:
			line += ", decided by the sequential judges"
		}
		fmt.Fprintln(a.stdout, line)
	}
	switch {
	case shift.Status == status.Succeeded && !bad:
		fmt.Fprintln(a.stdout, "Sluice promoted v2: every analysed step passed its canary analysis.")
		return nil
	case shift.Status == status.FailedContinue && bad:
		fmt.Fprintf(a.stdout, "Sluice rolled v2 back by itself: %s\n", stageError(shift))
		return nil
	case shift.Status == status.Succeeded:
		return &exitError{code: ExitFailed, err: errors.New("the canary analysis promoted the bad v2"),
			hint: "the analysis missed a regression it should catch; report it with the output above"}
	}
	return &exitError{code: ExitFailed, err: fmt.Errorf("stage %q ended %s: %s", demoShift, shift.Status, stageError(shift))}
}

// rollout is what the demo reads of a progressive Route stage's outputs.
type rollout struct {
	Status  string `json:"status"`
	History []struct {
		Step     int            `json:"step"`
		Weight   float64        `json:"weight"`
		Outcome  string         `json:"outcome"`
		Analysis *canary.Report `json:"analysis"`
	} `json:"history"`
}

// stageError is the reason a stage failed, from its context.
func stageError(s *apitype.Stage) string {
	var ctx struct {
		Exception struct {
			Details struct {
				Error string `json:"error"`
			} `json:"details"`
		} `json:"exception"`
	}
	_ = json.Unmarshal(s.Context, &ctx)
	return ctx.Exception.Details.Error
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// demoPackage is the example function's zip: built from the Sluice
// checkout when there is one (the current directory or a parent,
// $SLUICE_SOURCE, --source), else this very binary, which is the function
// when run as a package's bootstrap — so an installed sluice runs the demo
// with no checkout and no Go toolchain.
func (a *app) demoPackage(ctx context.Context, opts demoOptions) ([]byte, error) {
	src, err := a.sourceTree(opts.Source)
	var missing *exitError
	switch {
	case err == nil:
		fmt.Fprintln(a.stdout, "Building examples/functions/hello …")
		return fnbuild.Zip(ctx, src, "./examples/functions/hello")
	case opts.Source != "" || !errors.As(err, &missing):
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this sluice binary to package as the example function: %w", err)
	}
	if runtime.GOOS != "linux" {
		return nil, &exitError{code: ExitFailed, err: errors.New("there is no Sluice checkout here to build examples/functions/hello from, and this sluice binary is not a Linux one that could run as the function"),
			hint: "run the demo from a Sluice checkout (git clone …; go run ./cmd/sluice demo --yes), or give --source"}
	}
	fmt.Fprintln(a.stdout, "No Sluice checkout here: packaging this sluice binary as the example function (examples/functions/hello/hello) …")
	return fnbuild.ZipExecutable(self)
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
func uploadPackage(ctx context.Context, c *s3.Client, key string, zip []byte) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(demoBucket)}); err != nil &&
		!strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") && !strings.Contains(err.Error(), "BucketAlreadyExists") {
		return fmt.Errorf("create bucket %s in the local S3: %w", demoBucket, err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demoBucket), Key: aws.String(key), Body: bytes.NewReader(zip)}); err != nil {
		return fmt.Errorf("upload %s to the local S3: %w", key, err)
	}
	return nil
}

// demoRelease is what every release of the demo shares.
type demoRelease struct {
	// application and pipeline are what is run; application "" is
	// demoApplication.
	application, pipeline string
	opts                  demoOptions
	url, lambdaURL        string
	consoleLink           func(next string) string
}

// runDemoRelease runs the pipeline with params, printing its events, and
// answers the judgment as the options say.
func (a *app) runDemoRelease(ctx context.Context, c *apiclient.Client, rel demoRelease, params map[string]any) (*apitype.Execution, error) {
	exec, err := c.Trigger(ctx, cmp.Or(rel.application, demoApplication), rel.pipeline, apitype.TriggerRequest{Parameters: params})
	if err != nil {
		return nil, err
	}
	stages := map[string]apitype.Stage{}
	for _, s := range exec.Stages {
		stages[s.ID] = s
	}
	start := time.Now()
	wait := judgmentWait{name: demoJudgment, now: time.Now}
	var final *apitype.Execution
	err = c.FollowExecution(ctx, exec.ID, func(ev apitype.Event) error {
		fmt.Fprintln(a.stdout, "  "+formatEvent(ev, stages))
		switch ev.Type {
		case apitype.EventStageStatus:
			var data apitype.StageStatusData
			if json.Unmarshal(ev.Data, &data) != nil || !wait.observe(data) {
				return nil
			}
			return a.demoJudge(ctx, c, exec.ID, rel)
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
	fmt.Fprintf(a.stdout, "  → %s in %s (judgment wait excluded)\n", final.Status, (time.Since(start) - wait.total).Round(time.Millisecond))
	return final, nil
}

// judgmentWait measures the time a judgment stage waits for its answer,
// from the stage's RUNNING event to the event that ends it, whoever answers
// it: the demo itself, or a person in the console or another terminal
// (then demoJudge returns at once and only the stage's end says when the
// wait ended).
type judgmentWait struct {
	name  string           // the judgment stage's name
	now   func() time.Time // the clock
	since time.Time        // when the stage started waiting; zero when it is not
	total time.Duration    // the time waited so far
}

// observe takes a stage status event and reports whether it is the
// judgment starting to wait, when the demo should judge.
func (w *judgmentWait) observe(data apitype.StageStatusData) bool {
	if data.Name != w.name {
		return false
	}
	switch {
	case data.Status == status.Running && w.since.IsZero():
		w.since = w.now()
		return true
	case data.Status.Complete() && !w.since.IsZero():
		w.total += w.now().Sub(w.since)
		w.since = time.Time{}
	}
	return false
}

// demoJudge shows the canary's traffic and then judges, or asks a person.
func (a *app) demoJudge(ctx context.Context, c *apiclient.Client, id string, rel demoRelease) error {
	url, opts := rel.url, rel.opts
	// Let the live traffic show the split before deciding.
	timer := time.NewTimer(3 * time.Second)
	select {
	case <-timer.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	split, err := trafficSplit(ctx, rel.lambdaURL, demoFunction, demoAlias, 5*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "  traffic through %s:%s in the last 5 s: %s\n", demoFunction, demoAlias, split)
	if e, err := c.GetExecution(ctx, id); err == nil {
		for _, s := range e.Stages {
			var out struct {
				Score   *float64 `json:"canaryScore"`
				Result  string   `json:"canaryResult"`
				Message string   `json:"canaryScoreMessage"`
			}
			if s.Name == demoAnalysis && json.Unmarshal(s.Outputs, &out) == nil && out.Score != nil {
				fmt.Fprintf(a.stdout, "  Sluice's canary analysis: score %v, %s (%s)\n", *out.Score, out.Result, out.Message)
			}
		}
	}
	input := ""
	switch {
	case opts.Yes:
		input = "promote"
	case opts.Rollback:
		input = "rollback"
	default:
		fmt.Fprintf(a.stdout, `
  The canary waits for a person. Answer here (promote or rollback, then Enter), or judge it in
  the console (this link signs you in once):
    %[4]s
  or in another terminal:
    sluice judge %[1]s %[2]q continue --input promote --server %[3]s
    sluice judge %[1]s %[2]q continue --input rollback --server %[3]s

`, id, demoJudgment, url, rel.consoleLink("/executions/"+id))
		go a.askJudgment(ctx, c, id)
		return nil
	}
	fmt.Fprintf(a.stdout, "  → judging %q: continue with %q\n", demoJudgment, input)
	_, err = c.Judge(ctx, id, demoJudgment, apitype.JudgmentRequest{Status: apitype.JudgmentContinue, Input: input})
	return err
}

// askJudgment reads the person's answer from the terminal (stdin) and
// judges with it. Whichever comes first wins: an answer given in the
// console or another terminal makes this one refused, which is then
// said and otherwise ignored; the end of stdin leaves the console and the
// other terminal to answer. It runs beside the event stream, which
// follows the execution meanwhile, and ends with the process.
func (a *app) askJudgment(ctx context.Context, c *apiclient.Client, id string) {
	in := bufio.NewScanner(a.stdin)
	for in.Scan() {
		answer := strings.ToLower(strings.TrimSpace(in.Text()))
		switch answer {
		case "":
			continue
		case "p", "promote":
			answer = "promote"
		case "r", "rollback", "roll back":
			answer = "rollback"
		default:
			fmt.Fprintf(a.stdout, "  %q is not an answer: type promote or rollback, then Enter\n", answer)
			continue
		}
		fmt.Fprintf(a.stdout, "  → judging %q: continue with %q\n", demoJudgment, answer)
		if _, err := c.Judge(ctx, id, demoJudgment, apitype.JudgmentRequest{Status: apitype.JudgmentContinue, Input: answer}); err != nil && ctx.Err() == nil {
			fmt.Fprintf(a.stdout, "  the answer was not taken: %v\n", err)
		}
		return
	}
}

// printFunctionState prints the alias's routing and the versions left.
func printFunctionState(ctx context.Context, a *app, c *lambda.Client, function string) error {
	alias, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(function), Name: aws.String(demoAlias)})
	if err != nil {
		return fmt.Errorf("read alias %s:%s: %w", function, demoAlias, err)
	}
	routing := fmt.Sprintf("version %s", aws.ToString(alias.FunctionVersion))
	if alias.RoutingConfig != nil && len(alias.RoutingConfig.AdditionalVersionWeights) > 0 {
		for v, w := range alias.RoutingConfig.AdditionalVersionWeights {
			routing = fmt.Sprintf("version %s %.0f%% · version %s %.0f%%", aws.ToString(alias.FunctionVersion), 100*(1-w), v, 100*w)
		}
	} else {
		routing += " 100%"
	}
	fmt.Fprintf(a.stdout, "Alias %s:%s routes %s.\n", function, demoAlias, routing)
	var versions []string
	p := lambda.NewListVersionsByFunctionPaginator(c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(function)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list versions of %s: %w", function, err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Version) != "$LATEST" {
				versions = append(versions, fmt.Sprintf("version %s (%s)", aws.ToString(v.Version), aws.ToString(v.Description)))
			}
		}
	}
	fmt.Fprintf(a.stdout, "Published versions left: %s.\n", cmp.Or(strings.Join(versions, ", "), "none"))
	return nil
}
