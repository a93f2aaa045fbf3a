// Package functions lists the Lambda functions of Sluice's accounts for the
// API's read-only routes (GET /api/v1/accounts…): each function's
// published versions and aliases, read fresh through aws-sdk-go-v2
// (ListFunctions, ListVersionsByFunction, ListAliases), and for the local
// account the recent invocations and errors of each executed version from
// the local Lambda's metrics query.
//
// It only reads. It must never change a function, and it keeps no cache:
// every call asks the account's Lambda API again (ARCHITECTURE.md rule 6).
package functions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/awsclient"
)

// Defaults for Config.
const (
	DefaultConcurrency   = 8
	DefaultMetricsWindow = 5 * time.Minute
	DefaultMetricsStep   = 10 * time.Second
	// metricsTimeout bounds one metrics query of the local Lambda.
	metricsTimeout = 5 * time.Second
)

// Config configures a Lister. Every field but Accounts is optional.
type Config struct {
	// Accounts are the accounts to list; nil means none.
	Accounts *awsclient.Accounts
	// LocalLambdaURL is the embedded local Lambda whose metrics the local
	// account's functions get; empty means no metrics.
	LocalLambdaURL string
	// HTTPClient queries the local Lambda's metrics (default: one with a
	// five-second timeout).
	HTTPClient *http.Client
	// Concurrency bounds the functions described at once
	// (DefaultConcurrency); each takes two or three calls.
	Concurrency int
	// MetricsWindow and MetricsStep shape the metrics: how far back, and
	// the width of one point (DefaultMetricsWindow, DefaultMetricsStep).
	MetricsWindow time.Duration
	MetricsStep   time.Duration
	// Logger defaults to one that discards everything.
	Logger *slog.Logger
}

// Lister lists accounts and their functions; it implements
// httpapi.Functions. It is safe for concurrent use.
type Lister struct {
	accounts    *awsclient.Accounts
	localURL    string
	http        *http.Client
	concurrency int
	window      time.Duration
	step        time.Duration
	log         *slog.Logger
}

// New returns a Lister.
func New(cfg Config) *Lister {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: metricsTimeout}
	}
	return &Lister{
		accounts:    cfg.Accounts,
		localURL:    strings.TrimSuffix(cfg.LocalLambdaURL, "/"),
		http:        hc,
		concurrency: cmp.Or(cfg.Concurrency, DefaultConcurrency),
		window:      cmp.Or(cfg.MetricsWindow, DefaultMetricsWindow),
		step:        cmp.Or(cfg.MetricsStep, DefaultMetricsStep),
		log:         cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
	}
}

// Accounts returns every account, by name.
func (l *Lister) Accounts(context.Context) []apitype.Account {
	var out []apitype.Account
	for _, name := range l.accounts.Names() {
		a, err := l.accounts.Get(name)
		if err != nil {
			continue // Names lists only accounts Get knows
		}
		out = append(out, apitype.Account{Name: a.Name, Region: a.Region, Regions: a.Regions, Local: a.Local, Applications: a.Applications})
	}
	return out
}

// Functions lists the functions of the named account, by name, each with
// its published versions and aliases, and for the local account its
// metrics; q narrows it to one function (none when there is no such
// function) and moves the start of the metrics window. A failed metrics
// query leaves the function without metrics; any failure of the Lambda API
// fails the whole listing.
func (l *Lister) Functions(ctx context.Context, account string, q apitype.FunctionQuery) ([]apitype.Function, error) {
	a, err := l.accounts.In(account, q.Region)
	if err != nil {
		return nil, err
	}
	var configs []types.FunctionConfiguration
	if q.Function != "" {
		got, err := a.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(q.Function)})
		var nf *types.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
			return []apitype.Function{}, nil
		case err != nil:
			return nil, fmt.Errorf("get function %s: %w", q.Function, err)
		}
		configs = append(configs, *got.Configuration)
	} else {
		p := lambda.NewListFunctionsPaginator(a.Lambda, &lambda.ListFunctionsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list functions: %w", err)
			}
			configs = append(configs, page.Functions...)
		}
	}
	var since time.Time
	if q.Since != 0 {
		since = time.UnixMilli(q.Since)
	}
	out := make([]apitype.Function, len(configs))
	errs := make([]error, len(configs))
	sem := make(chan struct{}, l.concurrency)
	var wg sync.WaitGroup
	for i, c := range configs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = l.describe(ctx, a, c, since)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(x, y apitype.Function) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// describe reads one function's versions, aliases and metrics, these
// since the given time (zero: over the default window).
func (l *Lister) describe(ctx context.Context, a *awsclient.Account, c types.FunctionConfiguration, since time.Time) (apitype.Function, error) {
	name := aws.ToString(c.FunctionName)
	fn := apitype.Function{
		Name:        name,
		ARN:         aws.ToString(c.FunctionArn),
		Runtime:     string(c.Runtime),
		Description: aws.ToString(c.Description),
		Versions:    []apitype.FunctionVersion{},
		Aliases:     []apitype.FunctionAlias{},
	}
	vp := lambda.NewListVersionsByFunctionPaginator(a.Lambda, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(name)})
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			return fn, fmt.Errorf("list versions of %s: %w", name, err)
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Version) == "$LATEST" {
				continue
			}
			fn.Versions = append(fn.Versions, apitype.FunctionVersion{
				Version:      aws.ToString(v.Version),
				CodeSha256:   aws.ToString(v.CodeSha256),
				LastModified: lastModified(aws.ToString(v.LastModified)),
				Description:  aws.ToString(v.Description),
			})
		}
	}
	slices.SortStableFunc(fn.Versions, func(x, y apitype.FunctionVersion) int { return compareVersions(x.Version, y.Version) })
	ap := lambda.NewListAliasesPaginator(a.Lambda, &lambda.ListAliasesInput{FunctionName: aws.String(name)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return fn, fmt.Errorf("list aliases of %s: %w", name, err)
		}
		for _, al := range page.Aliases {
			alias := apitype.FunctionAlias{
				Name:            aws.ToString(al.Name),
				Description:     aws.ToString(al.Description),
				FunctionVersion: aws.ToString(al.FunctionVersion),
			}
			if al.RoutingConfig != nil && len(al.RoutingConfig.AdditionalVersionWeights) > 0 {
				alias.AdditionalVersionWeights = al.RoutingConfig.AdditionalVersionWeights
			}
			fn.Aliases = append(fn.Aliases, alias)
		}
	}
	slices.SortFunc(fn.Aliases, func(x, y apitype.FunctionAlias) int { return strings.Compare(x.Name, y.Name) })
	if a.Local && l.localURL != "" {
		m, err := l.metrics(ctx, name, since)
		if err != nil {
			l.log.WarnContext(ctx, "query local lambda metrics", "function", name, "err", err)
		} else {
			fn.Metrics = m
		}
	}
	return fn, nil
}

// lastModified parses Lambda's LastModified ("2024-05-01T12:00:00.000+0000")
// to epoch ms; 0 when it does not parse.
func lastModified(s string) int64 {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli()
		}
	}
	return 0
}

// compareVersions orders published versions numerically.
func compareVersions(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return cmp.Compare(x, y)
}

// metricsQuery is the part of the local Lambda's
// GET /_locallambda/metrics/query answer that the API passes on.
type metricsQuery struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Series []struct {
		Version string `json:"version"`
		Points  []struct {
			Time        time.Time `json:"time"`
			Invocations int64     `json:"invocations"`
			Errors      int64     `json:"errors"`
			Throttles   int64     `json:"throttles"`
			// SQS messages delivered by event source mappings, and
			// those that failed.
			Messages       int64 `json:"messages"`
			MessagesFailed int64 `json:"messagesFailed"`
		} `json:"points"`
	} `json:"series"`
}

// versionLatency is the part of one version's entry in the local
// Lambda's GET /_locallambda/metrics/samples answer that the API passes on.
type versionLatency struct {
	Version     string        `json:"version"`
	Requests    int64         `json:"requests"`
	Errors      int64         `json:"errors"`
	Timeouts    int64         `json:"timeouts"`
	Throttles   int64         `json:"throttles"`
	DurationP50 time.Duration `json:"durationP50Nanos"`
	DurationP99 time.Duration `json:"durationP99Nanos"`
}

// latency asks the local Lambda for the exact duration percentiles of each
// version of function over [since, until), by version.
func (l *Lister) latency(ctx context.Context, function string, since, until time.Time) (map[string]versionLatency, error) {
	q := url.Values{}
	q.Set("function", function)
	q.Set("qualifier", "*")
	q.Set("since", since.Format(time.RFC3339Nano))
	q.Set("until", until.Format(time.RFC3339Nano))
	var answer struct {
		Versions []versionLatency `json:"versions"`
	}
	if err := l.getJSON(ctx, "/_locallambda/metrics/samples?"+q.Encode(), &answer); err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	out := make(map[string]versionLatency, len(answer.Versions))
	for _, v := range answer.Versions {
		out[v.Version] = v
	}
	return out, nil
}

// getJSON gets a path of the local Lambda and decodes its JSON answer.
func (l *Lister) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.localURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("the local lambda answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func millis(d time.Duration) *float64 {
	ms := float64(d) / float64(time.Millisecond)
	return &ms
}

// metrics queries the local Lambda for a function's invocations per
// executed version, through every qualifier, since the given time (zero:
// over the default window). Over the default window, a version that did
// not run in it gets its earlier figures (earlier).
func (l *Lister) metrics(ctx context.Context, function string, since time.Time) (*apitype.FunctionMetrics, error) {
	q := url.Values{}
	q.Set("function", function)
	q.Set("qualifier", "*")
	step := l.step
	if since.IsZero() {
		q.Set("since", l.window.String())
	} else {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
		// At most about a hundred points, whatever the window.
		step = max(step, (time.Since(since) / 100).Round(time.Second))
	}
	q.Set("step", step.String())
	var mq metricsQuery
	if err := l.getJSON(ctx, "/_locallambda/metrics/query?"+q.Encode(), &mq); err != nil {
		return nil, err
	}
	out := &apitype.FunctionMetrics{
		Since:    mq.Since.UnixMilli(),
		Until:    mq.Until.UnixMilli(),
		StepMs:   step.Milliseconds(),
		Versions: []apitype.VersionMetrics{},
	}
	latency, err := l.latency(ctx, function, mq.Since, mq.Until)
	if err != nil {
		return nil, err
	}
	var idle []string
	for _, s := range mq.Series {
		vm := apitype.VersionMetrics{Version: s.Version, Points: make([]apitype.MetricPoint, 0, len(s.Points))}
		for _, p := range s.Points {
			vm.Invocations += p.Invocations
			vm.Errors += p.Errors
			vm.Throttles += p.Throttles
			vm.Messages += p.Messages
			vm.MessagesFailed += p.MessagesFailed
			vm.Points = append(vm.Points, apitype.MetricPoint{Time: p.Time.UnixMilli(), Invocations: p.Invocations, Errors: p.Errors})
		}
		v, ok := latency[s.Version]
		if ok && v.Requests > v.Throttles {
			vm.DurationP50Ms, vm.DurationP99Ms = millis(v.DurationP50), millis(v.DurationP99)
		}
		if ok && !since.IsZero() {
			// The series count whole steps; the samples count exactly
			// what ended since the time asked for, to the nanosecond.
			vm.Invocations, vm.Errors, vm.Throttles = v.Requests-v.Throttles, v.Errors+v.Timeouts, v.Throttles
		}
		if vm.Invocations == 0 {
			idle = append(idle, s.Version)
		}
		out.Versions = append(out.Versions, vm)
	}
	if since.IsZero() && len(idle) > 0 {
		earlier, err := l.earlier(ctx, function, idle, mq.Since)
		if err != nil {
			return nil, err
		}
		for i, vm := range out.Versions {
			if e, ok := earlier[vm.Version]; ok {
				out.Versions[i].Earlier = e
			}
		}
	}
	slices.SortStableFunc(out.Versions, func(x, y apitype.VersionMetrics) int { return compareVersions(x.Version, y.Version) })
	return out, nil
}

// earlierSpan is how far before the window earlier looks: the local
// Lambda's retention.
const earlierSpan = time.Hour

// earlier finds, for each of the versions, the latest stretch of the
// window's width before until in which it ran (within earlierSpan), and
// its figures over that stretch. A version that did not run in the span
// has none.
func (l *Lister) earlier(ctx context.Context, function string, versions []string, until time.Time) (map[string]*apitype.EarlierMetrics, error) {
	q := url.Values{}
	q.Set("function", function)
	q.Set("qualifier", "*")
	q.Set("since", until.Add(-earlierSpan).UTC().Format(time.RFC3339Nano))
	q.Set("until", until.UTC().Format(time.RFC3339Nano))
	q.Set("step", l.window.String())
	var mq metricsQuery
	if err := l.getJSON(ctx, "/_locallambda/metrics/query?"+q.Encode(), &mq); err != nil {
		return nil, fmt.Errorf("earlier metrics: %w", err)
	}
	out := map[string]*apitype.EarlierMetrics{}
	for _, s := range mq.Series {
		if !slices.Contains(versions, s.Version) {
			continue
		}
		for i := len(s.Points) - 1; i >= 0; i-- {
			p := s.Points[i]
			if p.Invocations == 0 {
				continue
			}
			end := p.Time.Add(l.window)
			if end.After(until) {
				end = until
			}
			lat, err := l.latency(ctx, function, p.Time, end)
			if err != nil {
				return nil, err
			}
			e := &apitype.EarlierMetrics{Since: p.Time.UnixMilli(), Until: end.UnixMilli(),
				Invocations: p.Invocations, Errors: p.Errors, Throttles: p.Throttles,
				Messages: p.Messages, MessagesFailed: p.MessagesFailed}
			if v, ok := lat[s.Version]; ok && v.Requests > v.Throttles {
				e.DurationP50Ms, e.DurationP99Ms = millis(v.DurationP50), millis(v.DurationP99)
			}
			out[s.Version] = e
			break
		}
	}
	return out, nil
}
