// Package awsclient owns Sluice's AWS accounts: it reads the accounts part
// of sluice.yaml and builds one aws-sdk-go-v2 client set (Lambda, S3, SNS,
// CloudWatch for the canary's metrics, and CloudFront for Lambda@Edge) per
// account and region, once, for
// every stage to share. An account spans the regions it lists, as a
// Clouddriver account does; a stage's region picks one, and the first is
// the default. The account "local" always
// exists when a local Lambda endpoint runs and points at it. An account may
// list the applications whose pipelines may use it (CheckApplication).
//
// It is the only place that knows how credentials, regions and endpoints
// are found. It must not hold any Lambda logic, cache any AWS state, or
// offer anything but the SDK's own clients (ARCHITECTURE.md rule 1: one
// wire to Lambda).
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/sluice-cd/sluice/internal/awsid"
	"sigs.k8s.io/yaml"
)

// LocalName is the name of the account that points at the embedded local
// Lambda. A stage without "account" uses it.
const LocalName = "local"

// LocalRegion is the local account's region.
const LocalRegion = "us-east-1"

// ErrUnknownAccount is returned (wrapped) by Accounts.Get for a name no
// account has, and for the empty name.
var ErrUnknownAccount = errors.New("unknown account")

// ErrUnknownRegion is returned (wrapped) by Accounts.In for a region the
// account does not list.
var ErrUnknownRegion = errors.New("region not in account")

// Config is the accounts part of sluice.yaml. Its zero value declares no
// AWS account; the local account needs no configuration.
type Config struct {
	Accounts []AccountConfig `json:"accounts"`
	// Local is the "local" section: the local account and the embedded
	// local Lambda.
	Local LocalConfig `json:"local"`
	// Stages is the "stages" section: what stages may reach on the
	// server's machine (stages.go).
	Stages StagesConfig `json:"stages"`
}

// LocalConfig is the "local" section of sluice.yaml.
type LocalConfig struct {
	// Credentials, if set, are the access key the embedded local Lambda
	// verifies every signature with, and the local account signs with.
	// Nil: the local account signs with "sluice-local", and the local
	// Lambda accepts any well-formed signature (it still refuses unsigned
	// requests and web pages).
	Credentials *LocalCredentials `json:"credentials,omitempty"`
	// ConcurrentExecutions is the local Lambda's account concurrency
	// limit; 0 takes its default, what the machine's memory holds.
	ConcurrentExecutions int `json:"concurrentExecutions,omitempty"`
}

// LocalCredentials are the local Lambda's access key; any AWS client that
// has them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) may call it.
type LocalCredentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// AccountConfig declares one AWS account.
type AccountConfig struct {
	// Name is what stages put in their "account" field. Required, unique,
	// and not "local".
	Name string `json:"name"`
	// Regions are the account's AWS regions, e.g. [us-east-1, eu-west-1]:
	// a stage's region picks one, and the first is the default. In
	// sluice.yaml "regions" is a list of names or, as Clouddriver writes
	// it, of {name: us-east-1} objects. One of Regions and Region is
	// required.
	Regions []string `json:"regions,omitempty"`
	// Region is a one-region account's region, e.g. us-west-2: the same
	// as Regions: [Region]. Kept for configurations written before
	// accounts spanned regions; set Region or Regions, not both.
	Region string `json:"region,omitempty"`
	// Profile is a shared config profile (~/.aws/config); empty means the
	// SDK's default credential chain (environment, shared files, SSO,
	// container and instance roles).
	Profile string `json:"profile,omitempty"`
	// RoleARN, when set, is assumed through STS with the credentials above.
	RoleARN string `json:"roleArn,omitempty"`
	// ExternalID is passed when assuming RoleARN.
	ExternalID string `json:"externalId,omitempty"`
	// Endpoint overrides the Lambda, S3, SNS, CloudWatch and CloudFront
	// endpoints (for
	// example a moto_server); S3 then uses path-style addressing.
	Endpoint string `json:"endpoint,omitempty"`
	// Applications are the applications whose pipelines may deploy to the
	// account, as Fiat's account permissions say; empty (absent) means
	// every application. A pipeline of another application that names the
	// account fails validation, and a stage whose account comes from an
	// expression fails when it runs (CheckApplication). Names match
	// exactly: shop and Shop are two applications.
	Applications []string `json:"applications,omitempty"`
}

// LocalEndpoint is the embedded local Lambda, whose S3 answers on the same
// URL (path-style). An empty URL means there is no local account.
type LocalEndpoint struct {
	URL string
}

// regions returns the account's regions: Regions, or Region alone.
func (ac AccountConfig) regions() []string {
	if len(ac.Regions) > 0 {
		return ac.Regions
	}
	if ac.Region != "" {
		return []string{ac.Region}
	}
	return nil
}

// Account is one account's clients in one of its regions. They are safe
// for concurrent use and live as long as the Accounts that built them.
type Account struct {
	Name string
	// Region is the region these clients call.
	Region string
	// Regions are all of the account's regions, the default first; the
	// local account has one.
	Regions []string
	// Local is true for the embedded local Lambda.
	Local bool
	// Applications are AccountConfig.Applications; the local account
	// has none, and takes every application.
	Applications []string
	Lambda       *lambda.Client
	S3           *s3.Client
	// CloudWatch reads the account's metrics for canary analysis; nil
	// for the local account, whose metrics the local Lambda keeps.
	CloudWatch *cloudwatch.Client
	// SNS manages the subscriptions of functions to topics
	// (snsTopicArns); the local Lambda's endpoint answers it too.
	SNS *sns.Client
	// CloudFront is the account's CloudFront, a global service: every
	// region's client calls the same endpoint (signing for us-east-1).
	// The local account's is the local Lambda's URL, where the local
	// CloudFront control plane answers.
	CloudFront *cloudfront.Client
}

// Accounts holds every configured account. It is built once at start-up
// and read-only afterwards.
type Accounts struct {
	// byName holds each account's client sets, one per region, in the
	// order of its regions: the first is the default.
	byName map[string][]*Account
}

var knownAccountFields = []string{"name", "regions", "region", "profile", "roleArn", "externalId", "endpoint", "applications"}

// LoadConfig reads the accounts, the local section and the stages section
// of a sluice.yaml (YAML or JSON; other top-level sections are ignored)
// and validates them. Errors name the file, the account and the field.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read accounts config: %w", err)
	}
	cfg, err := parseConfig(b)
	if err == nil {
		err = cfg.Stages.resolve(filepath.Dir(path))
	}
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func parseConfig(b []byte) (Config, error) {
	// A generic pass first, so an unknown or mistyped key is reported with
	// its account rather than as a bare decoding error.
	var raw struct {
		Accounts []map[string]any `json:"accounts"`
		Local    any              `json:"local"`
		Stages   any              `json:"stages"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("accounts must be a list of objects with %s: %w", strings.Join(knownAccountFields, ", "), err)
	}
	var errs []error
	cfg := Config{Accounts: make([]AccountConfig, len(raw.Accounts))}
	cfg.Local, errs = parseLocal(raw.Local)
	var stageErrs []error
	cfg.Stages, stageErrs = parseStages(raw.Stages)
	errs = append(errs, stageErrs...)
	for i, m := range raw.Accounts {
		label := accountLabel(i, m["name"])
		a := &cfg.Accounts[i]
		for k, v := range m {
			if !slices.Contains(knownAccountFields, k) {
				errs = append(errs, fmt.Errorf("%s: unknown field %q (known fields: %s)", label, k, strings.Join(knownAccountFields, ", ")))
				continue
			}
			if k == "applications" {
				apps, ok := stringList(v)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: field \"applications\" must be a list of application names, such as [shop, billing]", label))
				}
				a.Applications = apps
				continue
			}
			if k == "regions" {
				regions, ok := regionList(v)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: field \"regions\" must be a list of region names, such as [us-east-1, eu-west-1], or of {name: us-east-1} objects as Clouddriver writes them", label))
				}
				a.Regions = regions
				continue
			}
			s, ok := v.(string)
			if !ok && v != nil {
				errs = append(errs, fmt.Errorf("%s: field %q must be a string", label, k))
				continue
			}
			switch k {
			case "name":
				a.Name = s
			case "region":
				a.Region = s
			case "profile":
				a.Profile = s
			case "roleArn":
				a.RoleARN = s
			case "externalId":
				a.ExternalID = s
			case "endpoint":
				a.Endpoint = s
			}
		}
	}
	errs = append(errs, cfg.validate(true)...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// parseLocal reads the "local" section: {credentials: {accessKeyId,
// secretAccessKey}, concurrentExecutions}.
func parseLocal(v any) (LocalConfig, []error) {
	if v == nil {
		return LocalConfig{}, nil
	}
	local, ok := v.(map[string]any)
	if !ok {
		return LocalConfig{}, []error{errors.New("local must be an object with credentials or concurrentExecutions")}
	}
	var cfg LocalConfig
	var errs []error
	for k, v := range local {
		switch k {
		case "credentials":
			var err []error
			cfg.Credentials, err = parseLocalCredentials(v)
			errs = append(errs, err...)
		case "concurrentExecutions":
			n, ok := v.(float64) // YAML numbers arrive as JSON's
			if !ok || n != math.Trunc(n) || n < 1 || n > maxLocalConcurrency {
				errs = append(errs, fmt.Errorf("local.concurrentExecutions: want a whole number from 1 to %d (how many function environments run at once), got %v; leave it out for the default, what this machine's memory holds", maxLocalConcurrency, v))
				continue
			}
			cfg.ConcurrentExecutions = int(n)
		default:
			errs = append(errs, fmt.Errorf("local: unknown field %q (known fields: credentials, concurrentExecutions)", k))
		}
	}
	return cfg, errs
}

// maxLocalConcurrency bounds local.concurrentExecutions: each environment is
// a process on this machine.
const maxLocalConcurrency = 100000

// parseLocalCredentials reads local.credentials.
func parseLocalCredentials(raw any) (*LocalCredentials, []error) {
	if raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, []error{errors.New("local.credentials must be an object with accessKeyId and secretAccessKey")}
	}
	var errs []error
	creds := &LocalCredentials{}
	for k, v := range m {
		s, ok := v.(string)
		switch {
		case k != "accessKeyId" && k != "secretAccessKey":
			errs = append(errs, fmt.Errorf("local.credentials: unknown field %q (known fields: accessKeyId, secretAccessKey)", k))
		case !ok:
			errs = append(errs, fmt.Errorf("local.credentials: field %q must be a string", k))
		case k == "accessKeyId":
			creds.AccessKeyID = s
		default:
			creds.SecretAccessKey = s
		}
	}
	return creds, errs
}

// stringList returns v, a decoded YAML value, as a list of strings; null
// is an empty list.
func stringList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, e := range list {
		if out[i], ok = e.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

// regionList returns v, a decoded YAML value, as a list of region names:
// each element a name, or Clouddriver's {name: us-east-1}.
func regionList(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(list))
	for i, e := range list {
		switch e := e.(type) {
		case string:
			out[i] = e
		case map[string]any:
			name, ok := e["name"].(string)
			if !ok || len(e) != 1 {
				return nil, false
			}
			out[i] = name
		default:
			return nil, false
		}
	}
	return out, true
}

func accountLabel(i int, name any) string {
	if s, ok := name.(string); ok && s != "" {
		return fmt.Sprintf("accounts[%d] (%s)", i, s)
	}
	return fmt.Sprintf("accounts[%d]", i)
}

var (
	roleARNPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$`) })
	namePattern    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`) })
	// accessKeyPattern keeps an access key ID out of SigV4's separators
	// ("/" in the credential scope, "," and "=" in the header).
	accessKeyPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`) })
)

// validate returns every problem of the accounts, each naming the account
// and the field. withLocal reports whether "local" is reserved.
func (c Config) validate(withLocal bool) []error {
	var errs []error
	seen := map[string]int{}
	for i, a := range c.Accounts {
		label := accountLabel(i, a.Name)
		switch {
		case a.Name == "":
			errs = append(errs, fmt.Errorf("%s: name is required", label))
		case strings.EqualFold(a.Name, LocalName) && withLocal:
			errs = append(errs, fmt.Errorf("%s: name %q is reserved for the embedded local Lambda; choose another name", label, a.Name))
		case !namePattern().MatchString(a.Name):
			errs = append(errs, fmt.Errorf("%s: name %q may use only letters, digits, '.', '_' and '-'", label, a.Name))
		default:
			if j, dup := seen[a.Name]; dup {
				errs = append(errs, fmt.Errorf("%s: name %q is already used by accounts[%d]", label, a.Name, j))
			}
			seen[a.Name] = i
		}
		switch {
		case a.Region != "" && len(a.Regions) > 0:
			errs = append(errs, fmt.Errorf("%s: both region and regions are set; list every region under regions and remove region", label))
		case len(a.regions()) == 0:
			errs = append(errs, fmt.Errorf("%s: regions is required (e.g. regions: [us-east-1, eu-west-1]; the first is the default)", label))
		}
		seenRegion := map[string]bool{}
		for j, r := range a.Regions {
			switch {
			case !awsid.ValidRegion(r):
				errs = append(errs, fmt.Errorf("%s: regions[%d] %q is not a region name like us-west-2", label, j, r))
			case seenRegion[r]:
				errs = append(errs, fmt.Errorf("%s: regions[%d] %q is listed twice", label, j, r))
			}
			seenRegion[r] = true
		}
		if a.Region != "" && !awsid.ValidRegion(a.Region) {
			errs = append(errs, fmt.Errorf("%s: region %q is not a region name like us-west-2", label, a.Region))
		}
		if a.RoleARN != "" && !roleARNPattern().MatchString(a.RoleARN) {
			errs = append(errs, fmt.Errorf("%s: roleArn %q is not an IAM role ARN like arn:aws:iam::123456789012:role/deployer", label, a.RoleARN))
		}
		if a.ExternalID != "" && a.RoleARN == "" {
			errs = append(errs, fmt.Errorf("%s: externalId is set but roleArn is not; externalId is only used when assuming roleArn", label))
		}
		if a.Endpoint != "" {
			if u, err := url.Parse(a.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s: endpoint %q must be an http:// or https:// URL", label, a.Endpoint))
			}
		}
		for j, app := range a.Applications {
			if strings.TrimSpace(app) == "" {
				errs = append(errs, fmt.Errorf("%s: applications[%d] is empty; name an application, or leave applications out to let every application deploy here", label, j))
			}
		}
	}
	if lc := c.Local.Credentials; lc != nil {
		if !accessKeyPattern().MatchString(lc.AccessKeyID) {
			errs = append(errs, fmt.Errorf("local.credentials: accessKeyId %q must be 1 to 128 letters, digits, '_' or '-'", lc.AccessKeyID))
		}
		if lc.SecretAccessKey == "" {
			errs = append(errs, errors.New("local.credentials: secretAccessKey is required"))
		}
	}
	return errs
}

// New validates cfg and builds the clients of every account in each of
// its regions, and of the local account when local.URL is set. The AWS
// configuration (profile, role) is loaded once per account and shared by
// its regions; building a region's clients does no I/O, so many regions
// cost little at start-up. Credentials are resolved lazily by the SDK, on
// the first call; a named profile that does not exist fails here.
func New(ctx context.Context, cfg Config, local LocalEndpoint) (*Accounts, error) {
	if errs := cfg.validate(true); len(errs) > 0 {
		return nil, fmt.Errorf("accounts config: %w", errors.Join(errs...))
	}
	a := &Accounts{byName: make(map[string][]*Account, len(cfg.Accounts)+1)}
	if local.URL != "" {
		a.byName[LocalName] = []*Account{newLocal(local.URL, cfg.Local.Credentials)}
	}
	for _, ac := range cfg.Accounts {
		accts, err := newAWS(ctx, ac)
		if err != nil {
			return nil, err
		}
		a.byName[ac.Name] = accts
	}
	return a, nil
}

func newLocal(endpoint string, lc *LocalCredentials) *Account {
	hc := LocalHTTPClient(128)
	creds := credentials.NewStaticCredentialsProvider("sluice-local", "sluice-local", "")
	if lc != nil {
		creds = credentials.NewStaticCredentialsProvider(lc.AccessKeyID, lc.SecretAccessKey, "")
	}
	return &Account{
		Name:    LocalName,
		Region:  LocalRegion,
		Regions: []string{LocalRegion},
		Local:   true,
		Lambda: lambda.New(lambda.Options{
			Region:       LocalRegion,
			BaseEndpoint: aws.String(endpoint),
			Credentials:  creds,
			HTTPClient:   hc,
		}),
		S3: s3.New(s3.Options{
			Region:       LocalRegion,
			BaseEndpoint: aws.String(endpoint),
			Credentials:  creds,
			HTTPClient:   hc,
			UsePathStyle: true,
		}),
		SNS: sns.New(sns.Options{
			Region:       LocalRegion,
			BaseEndpoint: aws.String(endpoint),
			Credentials:  creds,
			HTTPClient:   hc,
		}),
		CloudFront: cloudfront.New(cloudfront.Options{
			Region:       LocalRegion,
			BaseEndpoint: aws.String(endpoint),
			Credentials:  creds,
			HTTPClient:   hc,
		}),
	}
}

// newAWS builds the account's client sets, one per region, in the order
// of its regions.
func newAWS(ctx context.Context, ac AccountConfig) ([]*Account, error) {
	regions := ac.regions()
	opts := []func(*config.LoadOptions) error{config.WithRegion(regions[0])}
	if ac.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(ac.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("account %s: load AWS configuration (profile %q): %w", ac.Name, ac.Profile, err)
	}
	if ac.RoleARN != "" {
		stsClient := sts.NewFromConfig(awsCfg)
		awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, ac.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "sluice-" + ac.Name
			if ac.ExternalID != "" {
				o.ExternalID = aws.String(ac.ExternalID)
			}
		}))
	}
	accts := make([]*Account, len(regions))
	for i, region := range regions {
		rc := awsCfg.Copy()
		rc.Region = region
		accts[i] = newAWSRegion(ac, rc, slices.Clone(regions))
	}
	return accts, nil
}

// newAWSRegion builds the account's clients for the region of awsCfg.
func newAWSRegion(ac AccountConfig, awsCfg aws.Config, regions []string) *Account {
	acct := &Account{Name: ac.Name, Region: awsCfg.Region, Regions: regions, Applications: slices.Clone(ac.Applications)}
	acct.Lambda = lambda.NewFromConfig(awsCfg, func(o *lambda.Options) {
		if ac.Endpoint != "" {
			o.BaseEndpoint = aws.String(ac.Endpoint)
		}
	})
	acct.S3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if ac.Endpoint != "" {
			o.BaseEndpoint = aws.String(ac.Endpoint)
			o.UsePathStyle = true
		}
	})
	acct.SNS = sns.NewFromConfig(awsCfg, func(o *sns.Options) {
		if ac.Endpoint != "" {
			o.BaseEndpoint = aws.String(ac.Endpoint)
		}
	})
	acct.CloudFront = cloudfront.NewFromConfig(awsCfg, func(o *cloudfront.Options) {
		// CloudFront is global: the SDK's endpoint rules send every
		// region of a partition to its one endpoint.
		if ac.Endpoint != "" {
			o.BaseEndpoint = aws.String(ac.Endpoint)
		}
	})
	acct.CloudWatch = cloudwatch.NewFromConfig(awsCfg, func(o *cloudwatch.Options) {
		// CloudWatch speaks Smithy RPC v2 CBOR (the SDK's default), AWS
		// JSON 1.0 and the query protocol. JSON, because moto_server (the
		// peer the tests run against) cannot parse CBOR: the wire tested
		// is the wire used.
		o.Protocol = awsjson.New10(cwschemas.GraniteServiceVersion20100801)
		if ac.Endpoint != "" {
			o.BaseEndpoint = aws.String(ac.Endpoint)
		}
	})
	return acct
}

// Get returns the named account in its default (first) region. An
// unknown name, and the empty name, are errors wrapping
// ErrUnknownAccount that list the accounts there are: an empty account is
// never taken to mean the local one.
func (a *Accounts) Get(name string) (*Account, error) {
	return a.In(name, "")
}

// In returns the named account's clients in region; "" is the account's
// default (first) region. A region the account does not list is an error
// wrapping ErrUnknownRegion that lists the account's regions; an unknown
// or empty name is as for Get.
func (a *Accounts) In(name, region string) (*Account, error) {
	if a != nil {
		if accts, ok := a.byName[name]; ok {
			if region == "" {
				return accts[0], nil
			}
			for _, acct := range accts {
				if acct.Region == region {
					return acct, nil
				}
			}
			if accts[0].Local {
				return nil, fmt.Errorf("%w: account %s (the local Lambda) has the regions %s, not %q; set region to %s or leave it out, or name an AWS account that has %s",
					ErrUnknownRegion, name, strings.Join(accts[0].Regions, ", "), region, accts[0].Regions[0], region)
			}
			return nil, fmt.Errorf("%w: account %s has the regions %s, not %q; set region to one of them, or add %s to the account's regions in sluice.yaml",
				ErrUnknownRegion, name, strings.Join(accts[0].Regions, ", "), region, region)
		}
	}
	known := a.Names()
	if name == "" {
		return nil, fmt.Errorf("%w: the account is empty; name one of the accounts (%s), or leave account out to use the local Lambda",
			ErrUnknownAccount, listOrNone(known))
	}
	if name == LocalName {
		return nil, fmt.Errorf("%w %q: no local Lambda runs in this process; name one of the configured accounts (%s) in the stage's account field",
			ErrUnknownAccount, name, listOrNone(known))
	}
	return nil, fmt.Errorf("%w %q: the accounts are %s; add it to the accounts config (sluice.yaml) or fix the stage's account field",
		ErrUnknownAccount, name, listOrNone(known))
}

// CheckApplication returns an error that names both when the pipelines of
// application may not deploy to account ("" is the local account): the
// account lists its applications, and application is not one of them. A
// name no account has passes; Get reports it.
func (a *Accounts) CheckApplication(application, account string) error {
	if account == "" {
		account = LocalName
	}
	if a == nil {
		return nil
	}
	accts, ok := a.byName[account]
	if !ok || len(accts[0].Applications) == 0 || slices.Contains(accts[0].Applications, application) {
		return nil
	}
	acct := accts[0]
	return fmt.Errorf("application %q may not deploy to account %q, which only the applications %s may use; name another account, or add %s to the account's applications in sluice.yaml",
		application, account, strings.Join(acct.Applications, ", "), application)
}

// Names returns every account's name, sorted.
func (a *Accounts) Names() []string {
	if a == nil {
		return nil
	}
	names := make([]string, 0, len(a.byName))
	for n := range a.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
