package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/locallambda/control"
	"github.com/sluice-cd/sluice/internal/status"
)

// localLambdaProc is a `sluice local serve` child process: the local
// Lambda outside the server, so that killing the server leaves the
// functions, the aliases and their history alone.
type localLambdaProc struct {
	url  string
	c    *lambda.Client
	cmd  *exec.Cmd
	done chan struct{}
}

func startLocalLambda(t *testing.T, bin string) *localLambdaProc {
	t.Helper()
	return startLocalLambdaIn(t, bin, t.TempDir())
}

// startLocalLambdaIn starts `sluice local serve` on the data directory dir
// (a restart when a killed one used it before).
func startLocalLambdaIn(t *testing.T, bin, dir string) *localLambdaProc {
	t.Helper()
	cmd := exec.Command(bin, "local", "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
	cmd.Stderr = testLog{t, "local", nil}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &localLambdaProc{cmd: cmd, done: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			// "local lambda: http://127.0.0.1:PORT (data in DIR)"
			if rest, ok := strings.CutPrefix(sc.Text(), "local lambda: "); ok {
				url, _, _ := strings.Cut(rest, " ")
				select {
				case urls <- url:
				default:
				}
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-p.done
	})
	select {
	case p.url = <-urls:
	case <-p.done:
		t.Fatalf("sluice local serve exited: %v", cmd.ProcessState)
	case <-time.After(time.Minute):
		t.Fatal("sluice local serve did not say where it listens within a minute")
	}
	accounts, err := awsclient.New(context.Background(), awsclient.Config{}, awsclient.LocalEndpoint{URL: p.url})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := accounts.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	p.c = acct.Lambda
	return p
}

// aliasHistory is every change the local Lambda made to alias of fn.
func (p *localLambdaProc) aliasHistory(t *testing.T, fn, alias string) []control.AliasChange {
	t.Helper()
	resp, err := http.Get(p.url + "/_locallambda/functions/" + fn + "/aliases/" + alias + "/history")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Changes []control.AliasChange }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("alias history of %s:%s: %s, %v", fn, alias, resp.Status, err)
	}
	return body.Changes
}

// twoVersions creates fn from the hello example with version 1 (healthy)
// behind alias live and version 2 published, failing every request when
// failing is set.
func (p *localLambdaProc) twoVersions(t *testing.T, zip, fn string, failing bool) {
	t.Helper()
	ctx := context.Background()
	code, err := os.ReadFile(zip)
	if err != nil {
		t.Fatal(err)
	}
	env := func(vars map[string]string) *types.Environment { return &types.Environment{Variables: vars} }
	if _, err := p.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fn), Runtime: types.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String("arn:aws:iam::000000000000:role/r"), Code: &types.FunctionCode{ZipFile: code},
		Environment: env(map[string]string{"HELLO_VERSION": "v1"})}); err != nil {
		t.Fatalf("create %s: %v", fn, err)
	}
	if err := lambda.NewFunctionActiveV2Waiter(p.c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	publish := func() string {
		out, err := p.c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(fn)})
		if err != nil {
			t.Fatalf("publish %s: %v", fn, err)
		}
		v := aws.ToString(out.Version)
		if err := lambda.NewFunctionActiveV2Waiter(p.c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn), Qualifier: aws.String(v)}, time.Minute); err != nil {
			t.Fatalf("version %s of %s: %v", v, fn, err)
		}
		return v
	}
	v1 := publish()
	v2env := map[string]string{"HELLO_VERSION": "v2"}
	if failing {
		v2env["FAILURE_RATE"] = "1"
	}
	if _, err := p.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Environment: env(v2env)}); err != nil {
		t.Fatal(err)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(p.c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	v2 := publish()
	if v1 != "1" || v2 != "2" {
		t.Fatalf("%s has versions %s and %s; want 1 and 2", fn, v1, v2)
	}
	if _, err := p.c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(fn), Name: aws.String("live"), FunctionVersion: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
}

// traffic invokes alias live of fn until stop is called, as clients
// would, so the analysis has samples of both versions.
func (p *localLambdaProc) traffic(t *testing.T, fn string) (stop func() int) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	n := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := p.c.Invoke(context.Background(), &lambda.InvokeInput{
				FunctionName: aws.String(fn), Qualifier: aws.String("live"), Payload: []byte(`{}`)}); err != nil {
				t.Errorf("invoke %s:live: %v", fn, err)
				return
			}
			n++
		}
	}()
	return func() int { close(done); wg.Wait(); return n }
}

// progressivePipeline is one $PROGRESSIVE Route stage of fn's alias live
// to $LATEST's published version, 2: 10 %, 30 %, 60 %, then 100 %, with a
// short pause each. With analysis, step 1 is judged by the saved canary
// config lambda-errors-latency.
func progressivePipeline(fn string, analysis bool) string {
	step1 := `{"weight":10,"pause":0.8}`
	an := ""
	if analysis {
		step1 = `{"weight":10,"pause":1.5,"analysis":true}`
		an = `,"analysis":{"canaryConfigName":"lambda-errors-latency","scopes":[{"step":0.1}]}`
	}
	return fmt.Sprintf(`{"application":"crash","name":%q,"stages":[{"refId":"1","type":"Aws.LambdaTrafficRoutingStage","name":"Shift",
		"functionName":%q,"aliasName":"live","deploymentStrategy":"$PROGRESSIVE","versionNameA":"2",
		"progressive":{"steps":[%s,{"weight":30,"pause":0.4,"analysis":false},{"weight":60,"pause":0.4,"analysis":false}]%s}}]}`,
		fn, fn, step1, an)
}

// routing is what an alias change left the alias routing, as "1" or
// "1+2@0.1".
func routing(c control.AliasChange) string {
	if c.Operation == "DeleteAlias" {
		return "deleted"
	}
	s := c.FunctionVersion
	for _, v := range slices.Sorted(maps.Keys(c.Weights)) {
		s += "+" + v + "@" + strconv.FormatFloat(c.Weights[v], 'g', -1, 64)
	}
	return s
}

// TestProgressiveShiftCrash kills `sluice serve` with SIGKILL at random
// moments of a $PROGRESSIVE shift, again and again, restarting it on the
// same data until the execution ends. The local Lambda runs on its own and
// records every change of the alias: each planned routing must have been
// applied exactly once, in order — never a step twice, never a step back
// — and a failing version 2 restored exactly once, with the stage
// TERMINAL for the analysis's reason and the execution's record saying so.
// The kill moments come from a seed the test logs;
// SLUICE_CRASH_SEED=N replays one.
func TestProgressiveShiftCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sluice binary")
	}
	bin := buildSluice(t)
	zip := helloZip(t)
	ll := startLocalLambda(t, bin)
	doc, err := os.ReadFile(filepath.Join("..", "..", "examples", "canary-configs", "lambda-errors-latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_CRASH_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SLUICE_CRASH_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (SLUICE_CRASH_SEED=%d replays these kill moments)", seed, seed)

	for i, sc := range []struct {
		name    string
		failing bool
		want    []string // the routings the alias goes through, after CreateAlias
		status  status.Status
		rollout string
		reason  string
	}{
		{name: "promotes", want: []string{"1+2@0.1", "1+2@0.3", "1+2@0.6", "2"}, status: status.Succeeded, rollout: "promoted"},
		{name: "restores", failing: true, want: []string{"1+2@0.1", "1"}, status: status.Terminal, rollout: "restored",
			reason: "canary analysis of step 1 (10%) failed"},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			// The stage names the function without the application's
			// prefix, as Spinnaker's Lambda stages do.
			name := "prog-" + sc.name
			fn := "crash-" + name
			ll.twoVersions(t, zip, fn, sc.failing)
			stop := ll.traffic(t, fn)
			defer stop()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			args := []string{"--lambda-addr", "off", "--local-lambda-url", ll.url}
			dataDir := t.TempDir()
			srv := startServer(t, bin, dataDir, args...)
			c := srv.client(t)
			ctx := context.Background()
			if _, err := c.PutCanaryConfig(ctx, "lambda-errors-latency", doc); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutPipeline(ctx, "crash", name, []byte(progressivePipeline(name, sc.failing)), "application/json"); err != nil {
				t.Fatal(err)
			}
			exec, err := c.Trigger(ctx, "crash", name, apitype.TriggerRequest{})
			if err != nil {
				t.Fatal(err)
			}
			// Half the kills come at a random moment; the other half as
			// soon as the alias changes — the moment between the change and
			// the engine's record of it, where a careless retry shifts twice.
			kills, seen := 0, len(ll.aliasHistory(t, fn, "live"))
			for ; kills < 12; kills++ {
				// The moment of the kill is the subject of the test.
				if rng.IntN(2) == 0 {
					time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
				} else {
					deadline := time.Now().Add(3 * time.Second)
					for len(ll.aliasHistory(t, fn, "live")) == seen && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
				}
				srv.kill(syscall.SIGKILL)
				seen = len(ll.aliasHistory(t, fn, "live"))
				srv = startServer(t, bin, dataDir, args...)
				c = srv.client(t)
				got, err := c.GetExecution(ctx, exec.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status.Complete() {
					kills++
					break
				}
			}
			got := waitDone(t, c, exec.ID)
			srv.kill(syscall.SIGTERM)
			t.Logf("%d kills; the execution ended %s", kills, got.Status)
			if kills == 0 {
				t.Errorf("the execution ended before the first kill; the test killed nothing (seed %d)", seed)
			}

			var applied []string
			for _, ch := range ll.aliasHistory(t, fn, "live") {
				applied = append(applied, routing(ch))
			}
			want := append([]string{"1"}, sc.want...) // CreateAlias, then the stage's changes
			if strings.Join(applied, " ") != strings.Join(want, " ") {
				t.Errorf("alias live went through %v; want exactly %v (seed %d)", applied, want, seed)
			}

			if got.Status != sc.status {
				t.Errorf("execution ended %s, want %s", got.Status, sc.status)
			}
			st := stageOf(got, "1")
			if st.Status != sc.status {
				t.Errorf("stage Shift ended %s, want %s", st.Status, sc.status)
			}
			var out struct {
				Rollout struct {
					Status string `json:"status"`
					Reason string `json:"reason"`
				} `json:"rollout"`
			}
			if err := json.Unmarshal(st.Outputs, &out); err != nil {
				t.Fatalf("stage outputs %s: %v", st.Outputs, err)
			}
			if out.Rollout.Status != sc.rollout {
				t.Errorf("rollout.status = %q, want %q", out.Rollout.Status, sc.rollout)
			}
			if !strings.Contains(out.Rollout.Reason, sc.reason) {
				t.Errorf("rollout.reason = %q, want it to contain %q", out.Rollout.Reason, sc.reason)
			}
			if sc.reason != "" && !strings.Contains(string(st.Context), sc.reason) {
				t.Errorf("the stage's context does not say %q: %s", sc.reason, st.Context)
			}
		})
	}
}
