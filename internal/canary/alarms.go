package canary

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// MaxGateAlarms is how many CloudWatch alarms one gate may name: CodeDeploy's
// limit per deployment group, whose deployment stops when any of them is in
// ALARM. More alarms than that belong in a composite alarm, which counts as
// one.
const MaxGateAlarms = 10

// maxAlarmNameLen is CloudWatch's limit on an alarm name, in characters.
const maxAlarmNameLen = 255

// describeAlarmsBatch is how many names one DescribeAlarms call asks about:
// its AlarmNames takes at most 100, and so does its MaxRecords.
const describeAlarmsBatch = 100

// alarmTypes are the kinds of alarm a gate reads. DescribeAlarms without
// AlarmTypes answers with metric alarms only, so a gate on a composite (or
// log) alarm would find it missing.
var alarmTypes = []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm, types.AlarmTypeLogAlarm}

// Alarm is one CloudWatch alarm's state as a gate sees it.
type Alarm struct {
	// Name is the alarm's name.
	Name string
	// State is CloudWatch's StateValue: ALARM, OK or INSUFFICIENT_DATA.
	State string
	// Reason is CloudWatch's StateReason, the human-readable explanation of
	// the state ("Threshold Crossed: 1 datapoint [5.0] was greater than
	// the threshold (1.0)"), or what SetAlarmState was given.
	Reason string
	// UpdatedAt is when the state or its reason last changed
	// (StateUpdatedTimestamp); zero when CloudWatch gave none.
	UpdatedAt time.Time
}

// AlarmGate reads named CloudWatch alarms of one account, through the
// account's CloudWatch client (awsclient builds it once per account, on
// the AWS JSON 1.0 protocol). It keeps no state between calls: every
// Firing reads the alarms afresh. It is safe for concurrent use.
//
// Only ALARM fires. INSUFFICIENT_DATA does not, as in CodeDeploy, which
// stops a deployment when an alarm is in ALARM and ignores the others: an
// alarm on a metric that the new version has not published yet is
// INSUFFICIENT_DATA, and must not stop the first step of a shift. An alarm
// that should fire on missing data says so itself, with TreatMissingData
// "breaching".
type AlarmGate struct {
	client  cloudwatch.DescribeAlarmsAPIClient
	account string
}

// NewAlarmGate returns a gate reading acct's CloudWatch alarms. The local
// account has no CloudWatch, and so no alarms.
func NewAlarmGate(acct *awsclient.Account) (*AlarmGate, error) {
	cw, name := cloudWatchClient(acct)
	if cw == nil {
		return nil, fmt.Errorf("alarm gate: account %s has no CloudWatch alarms: gate on alarms of an AWS account of sluice.yaml, or judge the local Lambda's metrics with a canary analysis", name)
	}
	return &AlarmGate{client: cw, account: name}, nil
}

// cloudWatchClient is acct's CloudWatch client, nil for the local account
// (and a nil one), and the account's name for messages.
func cloudWatchClient(acct *awsclient.Account) (*cloudwatch.Client, string) {
	if acct == nil {
		return nil, "<nil>"
	}
	return acct.CloudWatch, acct.Name
}

// MissingAlarmsError is a gate's alarms that do not exist in its account.
// A gate on a misspelled alarm would otherwise pass forever; callers fail
// the stage instead of retrying, since asking again will not create the
// alarms.
type MissingAlarmsError struct {
	// Account is the account whose CloudWatch was asked.
	Account string
	// Names are the missing alarms, in the order the gate names them.
	Names []string
}

// Error names the missing alarms and the account.
func (e *MissingAlarmsError) Error() string {
	quoted := make([]string, len(e.Names))
	for i, n := range e.Names {
		quoted[i] = strconv.Quote(n)
	}
	noun, verb := "alarm", "does"
	if len(e.Names) > 1 {
		noun, verb = "alarms", "do"
	}
	return fmt.Sprintf("CloudWatch %s %s %s not exist in account %s: check the spelling and the account's region, or create the %s", noun, strings.Join(quoted, ", "), verb, e.Account, noun)
}

// Firing returns the alarms among names that are in ALARM, in the order of
// names (a name given twice is read once). When any name is not an alarm
// of the account (metric, composite or log alarm) it returns a
// *MissingAlarmsError naming them all, and no alarms: a gate cannot pass
// on alarms it cannot read. Other errors are CloudWatch's, wrapped.
//
// Any number of names may be asked; they are read a hundred to a
// DescribeAlarms call. A gate's own limit is CheckAlarmNames'.
func (g *AlarmGate) Firing(ctx context.Context, names []string) (firing []Alarm, err error) {
	var want []string
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("alarm gate of account %s: alarm name %d is empty: name a CloudWatch alarm", g.account, i)
		}
		if !seen[n] {
			seen[n] = true
			want = append(want, n)
		}
	}
	found := make(map[string]Alarm, len(want))
	for start := 0; start < len(want); start += describeAlarmsBatch {
		batch := want[start:min(start+describeAlarmsBatch, len(want))]
		if err := g.describe(ctx, batch, found); err != nil {
			return nil, err
		}
	}
	var missing []string
	for _, n := range want {
		a, ok := found[n]
		switch {
		case !ok:
			missing = append(missing, n)
		case a.State == string(types.StateValueAlarm):
			firing = append(firing, a)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingAlarmsError{Account: g.account, Names: missing}
	}
	return firing, nil
}

// describe reads the alarms of names (at most describeAlarmsBatch) into
// found, page by page.
func (g *AlarmGate) describe(ctx context.Context, names []string, found map[string]Alarm) error {
	in := &cloudwatch.DescribeAlarmsInput{
		AlarmNames: names,
		AlarmTypes: alarmTypes,
		MaxRecords: aws.Int32(describeAlarmsBatch),
	}
	asked := make(map[string]bool, len(names))
	for _, n := range names {
		asked[n] = true
	}
	keep := func(name, reason *string, state types.StateValue, updated *time.Time) {
		if n := aws.ToString(name); asked[n] {
			found[n] = Alarm{Name: n, State: string(state), Reason: aws.ToString(reason), UpdatedAt: aws.ToTime(updated)}
		}
	}
	pages := cloudwatch.NewDescribeAlarmsPaginator(g.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read CloudWatch alarms %s of account %s: DescribeAlarms: %w", alarmList(names), g.account, err)
		}
		for _, a := range page.MetricAlarms {
			keep(a.AlarmName, a.StateReason, a.StateValue, a.StateUpdatedTimestamp)
		}
		for _, a := range page.CompositeAlarms {
			keep(a.AlarmName, a.StateReason, a.StateValue, a.StateUpdatedTimestamp)
		}
		for _, a := range page.LogAlarms {
			keep(a.AlarmName, a.StateReason, a.StateValue, a.StateUpdatedTimestamp)
		}
	}
	return nil
}

// alarmList names alarms in a message: the first three, then how many more.
func alarmList(names []string) string {
	const shown = 3
	quoted := make([]string, 0, shown)
	for _, n := range names[:min(shown, len(names))] {
		quoted = append(quoted, snippet(n))
	}
	s := strings.Join(quoted, ", ")
	if len(names) > shown {
		s += fmt.Sprintf(" and %d more", len(names)-shown)
	}
	return s
}

// CheckAlarmNames checks a gate's alarm names without asking CloudWatch,
// as a pipeline is saved: at most MaxGateAlarms, each named once, not
// empty, at most 255 characters and without control characters (AWS's
// limits on an alarm name). It returns nil or a *pipeline.ValidationError
// listing every problem; a problem's Path is relative to the list ("[3]"
// for names[3], "" for the list as a whole), for the caller to prefix with
// the field's own path.
func CheckAlarmNames(names []string) error {
	v := &validator{}
	if len(names) > MaxGateAlarms {
		v.add("", "%d alarms: a gate reads at most %d CloudWatch alarms (CodeDeploy's limit): combine some in a composite alarm and name that", len(names), MaxGateAlarms)
	}
	first := make(map[string]int, len(names))
	for i, n := range names {
		path := "[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(n) == "" {
			v.add(path, "empty alarm name: name a CloudWatch alarm of the stage's account, or remove the entry")
			continue
		}
		if j, dup := first[n]; dup {
			v.add(path, "alarm %s is also [%d]: name each alarm once", snippet(n), j)
			continue
		}
		first[n] = i
		switch l := utf8.RuneCountInString(n); {
		case !utf8.ValidString(n):
			v.add(path, "alarm name %s is not valid UTF-8: CloudWatch alarm names are UTF-8 text", snippet(n))
		case l > maxAlarmNameLen:
			v.add(path, "alarm name %s is %d characters: CloudWatch alarm names have at most %d", snippet(n), l, maxAlarmNameLen)
		}
		if k := strings.IndexFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }); k >= 0 {
			v.add(path, "alarm name %s contains the control character %U: CloudWatch alarm names cannot contain ASCII control characters", snippet(n), n[k])
		}
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &pipeline.ValidationError{Problems: v.problems}
}
