package apitype

// Account is one account Sluice deploys to, as listed by
// GET /api/v1/accounts.
type Account struct {
	Name string `json:"name"`
	// Region is the account's default region, its first.
	Region string `json:"region"`
	// Regions are all of the account's regions, the default first.
	Regions []string `json:"regions,omitempty"`
	// Local is true for the embedded local Lambda.
	Local bool `json:"local"`
	// Applications are the applications whose pipelines may deploy to the
	// account, and whose readers may see its functions; absent means
	// every application.
	Applications []string `json:"applications,omitempty"`
}

// AccountList is the body of GET /api/v1/accounts, by name.
type AccountList struct {
	Accounts []Account `json:"accounts"`
}

// FunctionList is the body of GET /api/v1/accounts/{account}/functions,
// by function name.
type FunctionList struct {
	Account   string     `json:"account"`
	Functions []Function `json:"functions"`
}

// FunctionQuery narrows GET /api/v1/accounts/{account}/functions; its
// zero value lists every function with the default metrics window.
type FunctionQuery struct {
	// Function, when set, lists only the function of that name.
	Function string
	// Region, when set, is the region of the account to list; empty means
	// its default (first) region.
	Region string
	// Since, when not zero, starts the metrics window there (epoch ms)
	// instead of five minutes ago: a judgment card asks for what happened
	// since its stage started.
	Since int64
}

// Function is one Lambda function as the account's Lambda API reports it
// now: its $LATEST configuration, published versions and aliases.
type Function struct {
	Name        string `json:"name"`
	ARN         string `json:"arn"`
	Runtime     string `json:"runtime,omitempty"`
	Description string `json:"description,omitempty"`
	// Versions are the published versions, oldest first; $LATEST is not
	// among them.
	Versions []FunctionVersion `json:"versions"`
	// Aliases are by name.
	Aliases []FunctionAlias `json:"aliases"`
	// Metrics are the recent per-version invocations; only the local
	// account has them.
	Metrics *FunctionMetrics `json:"metrics,omitempty"`
}

// FunctionVersion is one published version.
type FunctionVersion struct {
	Version    string `json:"version"`
	CodeSha256 string `json:"codeSha256"`
	// LastModified is when the version was published (epoch ms).
	LastModified int64  `json:"lastModified"`
	Description  string `json:"description,omitempty"`
}

// FunctionAlias is one alias and how it routes traffic.
type FunctionAlias struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// FunctionVersion gets every invocation through the alias that
	// AdditionalVersionWeights does not send elsewhere.
	FunctionVersion string `json:"functionVersion"`
	// AdditionalVersionWeights is the alias's RoutingConfig: version →
	// share of invocations (0 to 1) sent to it instead of FunctionVersion.
	AdditionalVersionWeights map[string]float64 `json:"additionalVersionWeights,omitempty"`
}

// FunctionMetrics are a function's invocations per executed version over a
// recent window, from the local Lambda's metrics.
type FunctionMetrics struct {
	// Since and Until bound the window (epoch ms); StepMs is the width of
	// one point.
	Since    int64            `json:"since"`
	Until    int64            `json:"until"`
	StepMs   int64            `json:"stepMs"`
	Versions []VersionMetrics `json:"versions"`
}

// VersionMetrics are one executed version's invocations in the window.
type VersionMetrics struct {
	Version string `json:"version"`
	// Invocations, Errors and Throttles are the totals over the window.
	Invocations int64 `json:"invocations"`
	Errors      int64 `json:"errors"`
	Throttles   int64 `json:"throttles,omitempty"`
	// DurationP50Ms and DurationP99Ms are the exact median and 99th
	// percentile of the durations of the invocations that ran in the
	// window, in milliseconds; absent when none ran.
	DurationP50Ms *float64 `json:"durationP50Ms,omitempty"`
	DurationP99Ms *float64 `json:"durationP99Ms,omitempty"`
	// Messages and MessagesFailed are the SQS messages event source
	// mappings delivered to the version in the window and those that
	// failed (returned to the queue); absent for a version that consumed
	// no queue.
	Messages       int64 `json:"messages,omitempty"`
	MessagesFailed int64 `json:"messagesFailed,omitempty"`
	// Earlier, for a version that did not run in the window, are its
	// figures over the latest earlier stretch of the window's width in
	// which it did, within the local Lambda's retention (an hour): the
	// version an alias stopped routing to keeps its last figures.
	Earlier *EarlierMetrics `json:"earlier,omitempty"`
	// Points are the counts per step, oldest first.
	Points []MetricPoint `json:"points"`
}

// MetricPoint is the count of one step starting at Time (epoch ms).
type MetricPoint struct {
	Time        int64 `json:"time"`
	Invocations int64 `json:"invocations"`
	Errors      int64 `json:"errors"`
}

// EarlierMetrics are a version's figures over an earlier stretch of time.
type EarlierMetrics struct {
	// Since and Until bound the stretch (epoch ms).
	Since       int64 `json:"since"`
	Until       int64 `json:"until"`
	Invocations int64 `json:"invocations"`
	Errors      int64 `json:"errors"`
	Throttles   int64 `json:"throttles,omitempty"`
	// DurationP50Ms and DurationP99Ms are as VersionMetrics' over the
	// stretch.
	DurationP50Ms *float64 `json:"durationP50Ms,omitempty"`
	DurationP99Ms *float64 `json:"durationP99Ms,omitempty"`
	// Messages and MessagesFailed are as VersionMetrics' over the stretch.
	Messages       int64 `json:"messages,omitempty"`
	MessagesFailed int64 `json:"messagesFailed,omitempty"`
}
