package lambda

import (
	"regexp"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/awsid"
	"github.com/sluice-cd/sluice/internal/stage"
)

// target is the fields every Lambda stage has: the function its tasks
// work on, and how long they wait for AWS. Every spec embeds it.
type target struct {
	Account      stage.StringField `json:"account" hint:"the account from the accounts config; absent means the local Lambda"`
	Region       stage.StringField `json:"region" hint:"one of the account's regions, e.g. us-east-1; absent means the account's first"`
	FunctionName stage.StringField `json:"functionName" hint:"a function name of letters, digits, '-' and '_' (at most 64), or a function ARN"`
	// PrefixApplication is prefixApplicationNameToFunction (default true);
	// see base.function.
	PrefixApplication  stage.BoolField `json:"prefixApplicationNameToFunction" hint:"false keeps functionName as written instead of prefixing the application name"`
	WaitTimeoutSeconds stage.IntField  `json:"waitTimeoutSeconds" hint:"how long a task waits for AWS, in seconds; default 300"`

	// fullName says that functionName is the full name already (the
	// restore stage's record): the application prefix is not applied.
	fullName bool
	// defaultWait is waitTimeoutSeconds's default when not zero (the
	// edge stages wait for CloudFront, which takes minutes).
	defaultWait time.Duration
}

var (
	// functionNamePattern: a name (1–64), or a full or partial ARN,
	// optionally qualified — as the Lambda API accepts.
	functionNamePattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^((arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)|(\d{12}:function:))?[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]+))?$`)
	})
	// aliasNamePattern: AWS's alias names (not all digits: see
	// isVersionNumber).
	aliasNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`) })
)

func (s *target) check(c *stage.Checker) {
	c.Valid(&s.Region, awsid.ValidRegion)
	c.Required(&s.FunctionName)
	c.Valid(&s.FunctionName, functionNamePattern().MatchString)
	c.Range(&s.WaitTimeoutSeconds, 1, 86400)
}

// functionTarget implements spec for every spec that embeds a target.
func (s *target) functionTarget() *target { return s }

// prefixed reports whether the function name takes the application
// prefix.
func (s *target) prefixed() bool {
	return !s.fullName && (!s.PrefixApplication.Set() || s.PrefixApplication.Value)
}

// waitTimeout is waitTimeoutSeconds, default 5 minutes.
func (s *target) waitTimeout() time.Duration {
	if s.WaitTimeoutSeconds.Set() {
		return time.Duration(s.WaitTimeoutSeconds.Value) * time.Second
	}
	if s.defaultWait > 0 {
		return s.defaultWait
	}
	return defaultWaitTimeout
}
