package canary_test

// The alarm gate against moto_server's CloudWatch alarms. moto keeps the
// state SetAlarmState gives and answers DescribeAlarms by name, but never
// pages, ignores AlarmTypes and has no PutCompositeAlarm:
// alarms_internal_test.go plays those parts of CloudWatch.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/canary"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// putAlarm creates a metric alarm on shop-orders' errors and sets its
// state, with reason as its StateReason; state "" leaves the new alarm's
// own (INSUFFICIENT_DATA on AWS, OK on moto: not ALARM).
func putAlarm(t *testing.T, cw *cloudwatch.Client, name string, state types.StateValue, reason string) {
	t.Helper()
	ctx := context.Background()
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String(name),
		Namespace:          aws.String("AWS/Lambda"),
		MetricName:         aws.String("Errors"),
		Dimensions:         []types.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("shop-orders")}},
		Statistic:          types.StatisticSum,
		Period:             aws.Int32(60),
		EvaluationPeriods:  aws.Int32(1),
		Threshold:          aws.Float64(1),
		ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatalf("PutMetricAlarm %s: %v", name, err)
	}
	if state != "" {
		setAlarm(t, cw, name, state, reason)
	}
}

func setAlarm(t *testing.T, cw *cloudwatch.Client, name string, state types.StateValue, reason string) {
	t.Helper()
	if _, err := cw.SetAlarmState(context.Background(), &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason),
	}); err != nil {
		t.Fatalf("SetAlarmState %s %s: %v", name, state, err)
	}
}

// alarmStates is what a test compares of Firing's alarms: name, state and
// reason, in order.
func alarmStates(as []canary.Alarm) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name + " " + a.State + " " + a.Reason
	}
	return out
}

func TestAlarmGate(t *testing.T) {
	acct := startMotoAccount(t)
	cw := acct.CloudWatch
	gate, err := canary.NewAlarmGate(acct)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	putAlarm(t, cw, "shop-orders-errors", types.StateValueAlarm, "Threshold Crossed: 1 datapoint [5.0] was greater than the threshold (1.0)")
	putAlarm(t, cw, "shop-orders-latency", types.StateValueOk, "Threshold Crossed: 1 datapoint [120.0] was not greater than the threshold (500.0)")
	putAlarm(t, cw, "shop-orders-throttles", types.StateValueInsufficientData, "Insufficient Data: 1 datapoint was unknown")
	putAlarm(t, cw, "shop-orders-5xx", types.StateValueAlarm, "5xx above 1%")
	putAlarm(t, cw, "shop-cart-errors", types.StateValueAlarm, "another function's alarm")

	t.Run("only ALARM fires", func(t *testing.T) {
		got, err := gate.Firing(ctx, []string{"shop-orders-latency", "shop-orders-5xx", "shop-orders-throttles", "shop-orders-errors"})
		if err != nil {
			t.Fatal(err)
		}
		// In the order asked; INSUFFICIENT_DATA and OK do not fire, and
		// shop-cart-errors, not asked, is not read.
		want := []string{
			"shop-orders-5xx ALARM 5xx above 1%",
			"shop-orders-errors ALARM Threshold Crossed: 1 datapoint [5.0] was greater than the threshold (1.0)",
		}
		if g := alarmStates(got); !slices.Equal(g, want) {
			t.Fatalf("firing %q, want %q", g, want)
		}
		for _, a := range got {
			if a.UpdatedAt.IsZero() {
				t.Errorf("%s: no UpdatedAt", a.Name)
			}
		}
	})

	t.Run("none firing", func(t *testing.T) {
		got, err := gate.Firing(ctx, []string{"shop-orders-latency", "shop-orders-throttles"})
		if err != nil || len(got) != 0 {
			t.Fatalf("Firing = %q, %v; want none", alarmStates(got), err)
		}
		got, err = gate.Firing(ctx, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("Firing of no alarms = %q, %v; want none", alarmStates(got), err)
		}
	})

	t.Run("a name twice is read once", func(t *testing.T) {
		got, err := gate.Firing(ctx, []string{"shop-orders-5xx", "shop-orders-latency", "shop-orders-5xx"})
		if err != nil {
			t.Fatal(err)
		}
		if g, want := alarmStates(got), []string{"shop-orders-5xx ALARM 5xx above 1%"}; !slices.Equal(g, want) {
			t.Fatalf("firing %q, want %q", g, want)
		}
	})

	t.Run("missing alarms", func(t *testing.T) {
		got, err := gate.Firing(ctx, []string{"shop-orders-erors", "shop-orders-errors", "shop-orders-latncy"})
		var missing *canary.MissingAlarmsError
		if !errors.As(err, &missing) {
			t.Fatalf("Firing = %q, %v; want a *MissingAlarmsError", alarmStates(got), err)
		}
		if got != nil {
			t.Errorf("firing %q with a missing alarm, want none", alarmStates(got))
		}
		if want := []string{"shop-orders-erors", "shop-orders-latncy"}; missing.Account != "moto" || !slices.Equal(missing.Names, want) {
			t.Errorf("missing %s %q, want moto %q", missing.Account, missing.Names, want)
		}
		for _, s := range []string{`"shop-orders-erors"`, `"shop-orders-latncy"`, "account moto"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %s", err, s)
			}
		}
	})

	t.Run("state changes are read", func(t *testing.T) {
		// No caching: the gate sees the alarm leave ALARM, and return with
		// a new reason.
		names := []string{"shop-orders-errors", "shop-orders-latency"}
		setAlarm(t, cw, "shop-orders-errors", types.StateValueOk, "recovered")
		if got, err := gate.Firing(ctx, names); err != nil || len(got) != 0 {
			t.Fatalf("after OK: Firing = %q, %v; want none", alarmStates(got), err)
		}
		setAlarm(t, cw, "shop-orders-latency", types.StateValueAlarm, "p99 above 500 ms")
		got, err := gate.Firing(ctx, names)
		if err != nil {
			t.Fatal(err)
		}
		if g, want := alarmStates(got), []string{"shop-orders-latency ALARM p99 above 500 ms"}; !slices.Equal(g, want) {
			t.Fatalf("firing %q, want %q", g, want)
		}
	})

	t.Run("more than a hundred names", func(t *testing.T) {
		// 201 alarms, read in three DescribeAlarms calls; every seventh is
		// in ALARM, and two missing names sit in the second and third
		// hundred.
		var names, want []string
		for i := range 2*100 + 1 {
			name := fmt.Sprintf("bulk-%03d", i)
			var state types.StateValue
			reason := ""
			if i%7 == 3 || i == 200 {
				state, reason = types.StateValueAlarm, fmt.Sprintf("bulk %d is down", i)
				want = append(want, name+" ALARM "+reason)
			}
			putAlarm(t, cw, name, state, reason)
			names = append(names, name)
		}
		got, err := gate.Firing(ctx, names)
		if err != nil {
			t.Fatal(err)
		}
		if g := alarmStates(got); !slices.Equal(g, want) {
			t.Fatalf("firing %d alarms %q, want %d %q", len(g), g, len(want), want)
		}

		withMissing := slices.Insert(slices.Clone(names), 150, "bulk-gone-a")
		withMissing = append(withMissing, "bulk-gone-b")
		_, err = gate.Firing(ctx, withMissing)
		var missing *canary.MissingAlarmsError
		if !errors.As(err, &missing) || !slices.Equal(missing.Names, []string{"bulk-gone-a", "bulk-gone-b"}) {
			t.Fatalf("Firing with two missing alarms: %v; want a *MissingAlarmsError naming bulk-gone-a and bulk-gone-b", err)
		}
	})
}

func TestNewAlarmGateLocal(t *testing.T) {
	t.Parallel()
	accounts, err := awsclient.New(context.Background(), awsclient.Config{}, awsclient.LocalEndpoint{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	local, err := accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	for _, acct := range []*awsclient.Account{local, nil} {
		gate, err := canary.NewAlarmGate(acct)
		if err == nil {
			t.Fatalf("NewAlarmGate(%v) = %v, want an error", acct, gate)
		}
		if !strings.Contains(err.Error(), "has no CloudWatch alarms") {
			t.Errorf("error %q does not say the account has no alarms", err)
		}
	}
}

func TestCheckAlarmNames(t *testing.T) {
	t.Parallel()
	ten := make([]string, canary.MaxGateAlarms)
	for i := range ten {
		ten[i] = fmt.Sprintf("alarm-%d", i)
	}
	long := strings.Repeat("a", 255)
	tests := []struct {
		name  string
		names []string
		want  []string // "path: start of message"
	}{
		{"none", nil, nil},
		{"ten", ten, nil},
		{"255 characters", []string{long, strings.Repeat("é", 255)}, nil},
		{"eleven", append(slices.Clone(ten), "alarm-10"), []string{": 11 alarms: a gate reads at most 10"}},
		{"empty", []string{"a", "", "  "}, []string{"[1]: empty alarm name", "[2]: empty alarm name"}},
		{"duplicate", []string{"a", "b", "a", "b", "a"}, []string{`[2]: alarm "a" is also [0]`, `[3]: alarm "b" is also [1]`, `[4]: alarm "a" is also [0]`}},
		{"too long", []string{"ok", long + "b"}, []string{"[1]: alarm name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…\" is 256 characters"}},
		{"control character", []string{"shop\norders"}, []string{`[0]: alarm name "shop\norders" contains the control character U+000A`}},
		{"invalid UTF-8", []string{"shop\xff"}, []string{`[0]: alarm name "shop\xff" is not valid UTF-8`}},
		{"every problem at once", append(slices.Clone(ten), "", "alarm-3"), []string{": 12 alarms", "[10]: empty", `[11]: alarm "alarm-3" is also [3]`}},
	}
	for _, tt := range tests {
		err := canary.CheckAlarmNames(tt.names)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v, want no problem", tt.name, err)
			}
			continue
		}
		var ve *pipeline.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: %v, want a *pipeline.ValidationError", tt.name, err)
			continue
		}
		if len(ve.Problems) != len(tt.want) {
			t.Errorf("%s: %d problems\n%v\nwant %d: %q", tt.name, len(ve.Problems), err, len(tt.want), tt.want)
			continue
		}
		for i, p := range ve.Problems {
			if got := p.Path + ": " + p.Msg; !strings.HasPrefix(got, tt.want[i]) {
				t.Errorf("%s: problem %d is %q, want it to start %q", tt.name, i, got, tt.want[i])
			}
		}
	}
}
