package locallambda

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/bench/spread"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// The control plane's figures of issue 15 (goal 3):
//
//	go test ./internal/locallambda -run '^$' -bench 'UpdateAlias' -benchtime 1x -timeout 60m
//	go test ./internal/locallambda -run '^$' -bench 'CodeOnDisk|OpenToListening' -benchtime 20x
//
// BenchmarkUpdateAlias holds 1, 400 and 1,000 functions (each with a
// version and an alias) in the local Lambda and in moto_server, and times
// UpdateAlias of a random function's alias on both, in interleaved rounds.

// updateAliasRounds and updateAliasCalls: each round times that many calls
// on each (size, peer), in turn.
const (
	updateAliasRounds = 5
	updateAliasCalls  = 100
)

// aliasPeer is an endpoint holding functions f0000… each with version 1
// and alias "live".
type aliasPeer struct {
	name   string
	client *lambda.Client
	n      int // functions created so far
	role   string
}

func (p *aliasPeer) grow(b *testing.B, n int, zip []byte) {
	ctx := context.Background()
	for ; p.n < n; p.n++ {
		name := fmt.Sprintf("f%04d", p.n)
		in := lambdatest.CreateInput(name, zip)
		in.Role, in.Publish = aws.String(p.role), true
		if _, err := p.client.CreateFunction(ctx, in); err != nil {
			b.Fatalf("%s: CreateFunction %s: %v", p.name, name, err)
		}
		if _, err := p.client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
			b.Fatalf("%s: CreateAlias %s: %v", p.name, name, err)
		}
	}
}

// round times calls UpdateAlias calls on random functions and returns the
// median latency.
func (p *aliasPeer) round(b *testing.B, rng *rand.Rand, calls int) time.Duration {
	ctx := context.Background()
	lat := make([]time.Duration, calls)
	for i := range lat {
		name := fmt.Sprintf("f%04d", rng.IntN(p.n))
		start := time.Now()
		if _, err := p.client.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"),
			Description: aws.String(fmt.Sprintf("round %d", rng.Int()))}); err != nil {
			b.Fatalf("%s: UpdateAlias %s: %v", p.name, name, err)
		}
		lat[i] = time.Since(start)
	}
	return spread.Median(lat)
}

func startMotoPeer(b *testing.B) *aliasPeer {
	endpoint := sluicetest.StartMoto(b, "the UpdateAlias comparison with moto")
	post := func(path, contentType, body string, header http.Header) {
		req, _ := http.NewRequest(http.MethodPost, endpoint+path, strings.NewReader(body))
		req.Header = header
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b.Fatalf("moto %s: %s", path, resp.Status)
		}
	}
	// No Docker: moto's simple Lambda backend; and the role CreateFunction
	// needs in its IAM.
	post("/moto-api/config", "application/json", `{"lambda":{"use_docker":false}}`, http.Header{})
	form := url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {"bench"},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}}
	post("/", "application/x-www-form-urlencoded", form.Encode(), http.Header{
		"Authorization": {"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"}})
	return &aliasPeer{name: "moto", client: lambdatest.BenchClient(endpoint), role: "arn:aws:iam::123456789012:role/bench"}
}

func BenchmarkUpdateAlias(b *testing.B) {
	srv, err := New(Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	peers := []*aliasPeer{
		{name: "local", client: lambdatest.BenchClient(srv.URL()), role: lambdatest.Role},
		startMotoPeer(b),
	}
	zip := lambdatest.BootstrapZip(b, "bench")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 400, 1000} {
		for _, p := range peers {
			p.grow(b, n, zip)
		}
		medians := map[string][]time.Duration{}
		for range updateAliasRounds {
			for _, p := range peers {
				medians[p.name] = append(medians[p.name], p.round(b, rng, updateAliasCalls))
			}
		}
		for _, p := range peers {
			m := medians[p.name]
			slices.Sort(m)
			b.ReportMetric(ms(spread.Median(m)), fmt.Sprintf("ms-%s-%d", p.name, n))
			b.Logf("UpdateAlias, %4d functions, %-5s: median of %d calls per round, over %d rounds: min %.2f ms, median %.2f ms, max %.2f ms",
				n, p.name, updateAliasCalls, updateAliasRounds, ms(m[0]), ms(spread.Median(m)), ms(m[len(m)-1]))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkCodeOnDisk: the disk a function with three published versions
// takes (functions/ in the data directory, allocated blocks): the
// aws-lambda-go test function, versions made by configuration changes (the
// same code), as a release pipeline publishes them.
func BenchmarkCodeOnDisk(b *testing.B) {
	zip := lambdatest.FunctionZip(b)
	ctx := context.Background()
	for range b.N {
		dir := b.TempDir()
		srv, err := New(Config{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		e := lambdatest.NewEndpoint(srv.URL())
		e.CreateActive(b, lambdatest.CreateInput("disk", zip))
		for v := range 3 {
			if _, err := e.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("disk"),
				Environment: &types.Environment{Variables: map[string]string{"RELEASE": fmt.Sprint(v)}}}); err != nil {
				b.Fatal(err)
			}
			e.WaitUpdated(b, "disk")
			e.WaitVersionActive(b, "disk", e.Publish(b, "disk"))
		}
		var blocks int64
		err = filepath.WalkDir(filepath.Join(dir, "functions"), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				blocks += st.Blocks
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		srv.Close()
		b.ReportMetric(float64(blocks*512)/1e6, "MB/function")
		b.ReportMetric(float64(len(zip))/1e6, "MB-zip")
	}
}

// BenchmarkOpenToListening: from New to the port accepting connections,
// and to the first answer that needs the model (GetAlias), with a data
// directory that holds 1,000 functions (a version and an alias each).
func BenchmarkOpenToListening(b *testing.B) {
	dir := b.TempDir()
	srv, err := New(Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Start(context.Background(), "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	p := &aliasPeer{name: "local", client: lambdatest.BenchClient(srv.URL()), role: lambdatest.Role}
	p.grow(b, 1000, lambdatest.BootstrapZip(b, "start"))
	srv.Close()

	lat := make([]time.Duration, 0, b.N)
	answered := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		srv, err := New(Config{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		addr, err := srv.Start(context.Background(), "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		c.Close()
		// The first answer that needs the model.
		if _, err := lambdatest.BenchClient(srv.URL()).GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String("f0999"), Name: aws.String("live")}); err != nil {
			b.Fatal(err)
		}
		answered = append(answered, time.Since(start))
		b.StopTimer()
		srv.Close()
		b.StartTimer()
	}
	slices.Sort(lat)
	slices.Sort(answered)
	b.ReportMetric(ms(lat[0]), "ms-listening-min")
	b.ReportMetric(ms(spread.Median(lat)), "ms-listening-median")
	b.ReportMetric(ms(lat[len(lat)-1]), "ms-listening-max")
	b.ReportMetric(ms(answered[0]), "ms-answer-min")
	b.ReportMetric(ms(spread.Median(answered)), "ms-answer-median")
	b.ReportMetric(ms(answered[len(answered)-1]), "ms-answer-max")
}
