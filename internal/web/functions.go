package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// accountsView is the Functions page without an account: the accounts.
type accountsView struct {
	Accounts []accountRow
}

type accountRow struct {
	apitype.Account
	URL string
}

// functionsView is the functions of one account.
type functionsView struct {
	Account   apitype.Account
	Accounts  []accountRow
	Functions []functionView
}

type functionView struct {
	Name, Runtime, Description, ARN string
	Aliases                         []aliasView
	Versions                        []versionView
	// Window says what the metrics cover ("5m"); empty without metrics.
	Window string
	// Consumer is set when a version of the function was delivered SQS
	// messages by an event source mapping (in the window or, for a version
	// that no longer runs, earlier): the versions then show the messages
	// they processed and failed.
	Consumer bool
}

type aliasView struct {
	Name, Description string
	Segments          []trafficSegment
	// Text is the routing in words: "v6 90% · v7 10%".
	Text string
}

// trafficSegment is one version's share of an alias's traffic bar, on a
// bar 100 units wide.
type trafficSegment struct {
	Version string
	Share   float64
	X, W    float64
	Color   int
	Label   string
}

type versionView struct {
	Version      string
	CodeSha256   string
	Description  string
	LastModified int64
	Color        int
	// Deleted is set for a version that ran but is published no more.
	Deleted bool
	// Aliases routing to this version.
	Aliases []string
	// Metrics over the window; HasMetrics is false when the account has
	// none or the version did not run.
	HasMetrics  bool
	Invocations int64
	Errors      int64
	PerMinute   string
	ErrorRate   string
	// Messages are the SQS messages delivered to the version, Processed
	// those it processed and MessagesFailed those it failed (returned to
	// the queue); MessageFailureRate is the failed share ("2.5%"), empty
	// without messages.
	Messages, Processed, MessagesFailed int64
	MessageFailureRate                  string
	// Latency is the median and 99th percentile duration over the
	// window ("3.1 / 12.0 ms"), empty when nothing ran.
	Latency string
	// Spark is the polyline of invocations per step on a 100×20 box;
	// SparkErr that of errors.
	Spark, SparkErr string
	// EarlierSince and EarlierUntil, when set, say that the version did
	// not run in the window and its figures are over the latest earlier
	// stretch in which it did (a version the alias stopped routing to).
	EarlierSince, EarlierUntil int64
}

// colors is how many version colours the stylesheet has.
const colors = 6

func (c *Console) accounts(r *http.Request) (*page, error) {
	list, err := c.api.ListAccounts(r.Context())
	if err != nil {
		return nil, err
	}
	if len(list) == 1 {
		return c.functionsOf(r, list[0], list)
	}
	v := &accountsView{Accounts: accountRows(list)}
	return &page{Name: "accounts", Title: "Functions", Nav: "functions", Data: v}, nil
}

func accountRows(list []apitype.Account) []accountRow {
	rows := make([]accountRow, len(list))
	for i, a := range list {
		rows[i] = accountRow{Account: a, URL: pathJoin("functions", a.Name)}
	}
	return rows
}

func (c *Console) functions(r *http.Request) (*page, error) {
	list, err := c.api.ListAccounts(r.Context())
	if err != nil {
		return nil, err
	}
	name := r.PathValue("account")
	i := slices.IndexFunc(list, func(a apitype.Account) bool { return a.Name == name })
	if i < 0 {
		return nil, &pageError{Status: http.StatusNotFound, Message: fmt.Sprintf("There is no account %q.", name)}
	}
	return c.functionsOf(r, list[i], list)
}

func (c *Console) functionsOf(r *http.Request, acct apitype.Account, all []apitype.Account) (*page, error) {
	fns, err := c.api.ListFunctions(r.Context(), acct.Name)
	if err != nil {
		return nil, err
	}
	v := &functionsView{Account: acct, Accounts: accountRows(all)}
	for _, f := range fns {
		v.Functions = append(v.Functions, newFunctionView(f))
	}
	p := &page{Name: "functions", Title: "Functions in " + acct.Name, Nav: "functions", Data: v}
	if acct.Local {
		p.LivePoll = 5000 // metrics and routing move while a canary runs
	}
	return p, nil
}

func newFunctionView(f apitype.Function) functionView {
	fv := functionView{Name: f.Name, Runtime: f.Runtime, Description: f.Description, ARN: f.ARN}
	for _, a := range f.Aliases {
		fv.Aliases = append(fv.Aliases, newAliasView(a, versionColor))
	}
	metrics := map[string]apitype.VersionMetrics{}
	if f.Metrics != nil {
		fv.Window = windowText(f.Metrics.Until - f.Metrics.Since)
		for _, m := range f.Metrics.Versions {
			metrics[m.Version] = m
		}
	}
	versions := slices.Clone(f.Versions)
	// A version that ran but is not published any more was deleted (the
	// previous version, after a promotion): keep its row and figures while
	// the local Lambda keeps them.
	var deleted []string
	for v := range metrics {
		if v != "$LATEST" && !slices.ContainsFunc(versions, func(fv apitype.FunctionVersion) bool { return fv.Version == v }) {
			deleted = append(deleted, v)
		}
	}
	for _, v := range deleted {
		versions = append(versions, apitype.FunctionVersion{Version: v})
	}
	slices.SortStableFunc(versions, func(a, b apitype.FunctionVersion) int { return compareVersionNames(a.Version, b.Version) })
	// $LATEST has no published version; show it when it ran.
	if _, ok := metrics["$LATEST"]; ok {
		versions = append(versions, apitype.FunctionVersion{Version: "$LATEST"})
	}
	for i := len(versions) - 1; i >= 0; i-- { // newest first
		ver := versions[i]
		vv := versionView{
			Version:      ver.Version,
			CodeSha256:   ver.CodeSha256,
			Description:  ver.Description,
			LastModified: ver.LastModified,
			Color:        versionColor(ver.Version),
			Deleted:      slices.Contains(deleted, ver.Version),
		}
		for _, a := range f.Aliases {
			if a.FunctionVersion == ver.Version || a.AdditionalVersionWeights[ver.Version] > 0 {
				vv.Aliases = append(vv.Aliases, a.Name)
			}
		}
		if m, ok := metrics[ver.Version]; ok && f.Metrics != nil {
			vv.HasMetrics = true
			since, until := f.Metrics.Since, f.Metrics.Until
			inv, errs, p50, p99 := m.Invocations, m.Errors, m.DurationP50Ms, m.DurationP99Ms
			msgs, msgsFailed := m.Messages, m.MessagesFailed
			if e := m.Earlier; inv == 0 && e != nil {
				// It stopped running: keep its last figures, dated.
				since, until = e.Since, e.Until
				inv, errs, p50, p99 = e.Invocations, e.Errors, e.DurationP50Ms, e.DurationP99Ms
				msgs, msgsFailed = e.Messages, e.MessagesFailed
				vv.EarlierSince, vv.EarlierUntil = e.Since, e.Until
			} else {
				vv.Spark, vv.SparkErr = sparklines(m.Points)
			}
			vv.Invocations, vv.Errors = inv, errs
			vv.Messages, vv.MessagesFailed, vv.Processed = msgs, msgsFailed, msgs-msgsFailed
			if msgs > 0 {
				fv.Consumer = true
				vv.MessageFailureRate = strconv.FormatFloat(float64(msgsFailed)/float64(msgs)*100, 'f', 1, 64) + "%"
			}
			if minutes := float64(until-since) / 60000; minutes > 0 {
				vv.PerMinute = strconv.FormatFloat(float64(inv)/minutes, 'f', 1, 64)
			}
			if inv > 0 {
				vv.ErrorRate = strconv.FormatFloat(float64(errs)/float64(inv)*100, 'f', 1, 64) + "%"
			}
			if p50 != nil && p99 != nil {
				vv.Latency = strconv.FormatFloat(*p50, 'f', 1, 64) + " / " + strconv.FormatFloat(*p99, 'f', 1, 64) + " ms"
			}
		}
		fv.Versions = append(fv.Versions, vv)
	}
	return fv
}

// versionColor gives each published version its own colour, the same on
// every page and after older versions are deleted; $LATEST has the last.
func versionColor(version string) int {
	if n, err := strconv.Atoi(version); err == nil && n > 0 {
		return (n - 1) % colors
	}
	return colors - 1
}

// newAliasView lays out an alias's traffic bar: the main version first,
// then the additional versions by version.
func newAliasView(a apitype.FunctionAlias, colorOf func(string) int) aliasView {
	av := aliasView{Name: a.Name, Description: a.Description}
	rest := 1.0
	var extra []string
	for ver, w := range a.AdditionalVersionWeights {
		rest -= w
		extra = append(extra, ver)
	}
	slices.SortFunc(extra, func(x, y string) int {
		nx, ex := strconv.Atoi(x)
		ny, ey := strconv.Atoi(y)
		if ex == nil && ey == nil {
			return nx - ny
		}
		return strings.Compare(x, y)
	})
	shares := []trafficSegment{{Version: a.FunctionVersion, Share: max(rest, 0)}}
	for _, ver := range extra {
		shares = append(shares, trafficSegment{Version: ver, Share: a.AdditionalVersionWeights[ver]})
	}
	x := 0.0
	var words []string
	for _, s := range shares {
		s.X = x
		s.W = s.Share * 100
		x += s.W
		s.Color = colorOf(s.Version)
		s.Label = versionLabel(s.Version) + " " + pctText(s.Share)
		words = append(words, s.Label)
		av.Segments = append(av.Segments, s)
	}
	av.Text = strings.Join(words, " · ")
	return av
}

// versionLabel writes a published version as "v6"; $LATEST as it is.
func versionLabel(v string) string {
	if _, err := strconv.Atoi(v); err == nil {
		return "v" + v
	}
	return v
}

// sparklines draws invocations and errors per step as polylines on a
// 100×20 box, on one scale.
func sparklines(points []apitype.MetricPoint) (inv, errs string) {
	if len(points) < 2 {
		return "", ""
	}
	var top int64 = 1
	for _, p := range points {
		top = max(top, p.Invocations)
	}
	line := func(val func(apitype.MetricPoint) int64) string {
		var b strings.Builder
		for i, p := range points {
			x := float64(i) / float64(len(points)-1) * 100
			y := 19 - float64(val(p))/float64(top)*18
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		return strings.TrimSpace(b.String())
	}
	return line(func(p apitype.MetricPoint) int64 { return p.Invocations }), line(func(p apitype.MetricPoint) int64 { return p.Errors })
}

// windowText names a metrics window: "5 min", or a duration.
func windowText(ms int64) string {
	if ms > 0 && ms%60000 == 0 {
		return strconv.FormatInt(ms/60000, 10) + " min"
	}
	return durText(ms)
}
