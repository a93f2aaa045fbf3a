package canary

// What moto_server never does with alarms: refuse more than 100 AlarmNames,
// page DescribeAlarms' answer, answer by AlarmTypes, or hold composite and
// log alarms. CloudWatch does all four (DescribeAlarms' reference), so a
// scripted CloudWatch plays them here; alarms_test.go reads a real peer.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// scriptedAlarms answers DescribeAlarms as CloudWatch does: at most 100
// names, only the asked alarm types (metric alarms when none are asked),
// pageSize alarms a page.
type scriptedAlarms struct {
	metric    map[string]types.StateValue
	composite map[string]types.StateValue
	log       map[string]types.StateValue
	pageSize  int
	calls     []*cloudwatch.DescribeAlarmsInput
}

func (s *scriptedAlarms) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	s.calls = append(s.calls, in)
	if len(in.AlarmNames) > 100 {
		return nil, fmt.Errorf("ValidationError: AlarmNames has %d members, at most 100", len(in.AlarmNames))
	}
	typesAsked := in.AlarmTypes
	if len(typesAsked) == 0 {
		typesAsked = []types.AlarmType{types.AlarmTypeMetricAlarm}
	}
	// Every match, in a fixed order, then the page the token points at.
	type match struct {
		kind  types.AlarmType
		name  string
		state types.StateValue
	}
	var all []match
	for _, kind := range []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm, types.AlarmTypeLogAlarm} {
		if !slices.Contains(typesAsked, kind) {
			continue
		}
		byName := map[types.AlarmType]map[string]types.StateValue{
			types.AlarmTypeMetricAlarm: s.metric, types.AlarmTypeCompositeAlarm: s.composite, types.AlarmTypeLogAlarm: s.log}[kind]
		for _, n := range in.AlarmNames {
			if st, ok := byName[n]; ok {
				all = append(all, match{kind, n, st})
			}
		}
	}
	from := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		from, _ = strconv.Atoi(tok)
	}
	to := min(from+s.pageSize, len(all))
	out := &cloudwatch.DescribeAlarmsOutput{}
	if to < len(all) {
		out.NextToken = aws.String(strconv.Itoa(to))
	}
	at := aws.Time(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	for _, m := range all[from:to] {
		reason := aws.String(string(m.kind) + " " + m.name)
		switch m.kind {
		case types.AlarmTypeMetricAlarm:
			out.MetricAlarms = append(out.MetricAlarms, types.MetricAlarm{AlarmName: aws.String(m.name), StateValue: m.state, StateReason: reason, StateUpdatedTimestamp: at})
		case types.AlarmTypeCompositeAlarm:
			out.CompositeAlarms = append(out.CompositeAlarms, types.CompositeAlarm{AlarmName: aws.String(m.name), StateValue: m.state, StateReason: reason, StateUpdatedTimestamp: at})
		case types.AlarmTypeLogAlarm:
			out.LogAlarms = append(out.LogAlarms, types.LogAlarm{AlarmName: aws.String(m.name), StateValue: m.state, StateReason: reason, StateUpdatedTimestamp: at})
		}
	}
	return out, nil
}

func TestAlarmGateBatchesAndPages(t *testing.T) {
	t.Parallel()
	cw := &scriptedAlarms{
		metric:    map[string]types.StateValue{},
		composite: map[string]types.StateValue{"orders-health": types.StateValueAlarm, "cart-health": types.StateValueOk},
		log:       map[string]types.StateValue{"orders-log-errors": types.StateValueAlarm},
		pageSize:  7,
	}
	var names, want []string
	for i := range 230 {
		n := fmt.Sprintf("m-%03d", i)
		cw.metric[n] = types.StateValueOk
		if i%50 == 49 {
			cw.metric[n] = types.StateValueAlarm
			want = append(want, n+" ALARM MetricAlarm "+n)
		}
		if i%50 == 10 {
			cw.metric[n] = types.StateValueInsufficientData
		}
		names = append(names, n)
	}
	// A composite and a log alarm in the first hundred, one in the last.
	names = slices.Insert(names, 5, "orders-health", "cart-health")
	names = append(names, "orders-log-errors")
	want = append([]string{"orders-health ALARM CompositeAlarm orders-health"}, want...)
	want = append(want, "orders-log-errors ALARM LogAlarm orders-log-errors")

	g := &AlarmGate{client: cw, account: "prod"}
	got, err := g.Firing(context.Background(), names)
	if err != nil {
		t.Fatal(err)
	}
	var gotStates []string
	for _, a := range got {
		gotStates = append(gotStates, a.Name+" "+a.State+" "+a.Reason)
		if want := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC); !a.UpdatedAt.Equal(want) {
			t.Errorf("%s: UpdatedAt %v, want %v", a.Name, a.UpdatedAt, want)
		}
	}
	if !slices.Equal(gotStates, want) {
		t.Fatalf("firing %q\nwant %q", gotStates, want)
	}

	// 233 names: three batches of 100, 100 and 33 names, each paged by 7.
	var batches []int
	asked := map[string]int{}
	for _, c := range cw.calls {
		if !slices.Equal(c.AlarmTypes, []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm, types.AlarmTypeLogAlarm}) {
			t.Errorf("DescribeAlarms asked for alarm types %v, want metric, composite and log alarms", c.AlarmTypes)
		}
		if c.NextToken == nil {
			batches = append(batches, len(c.AlarmNames))
			for _, n := range c.AlarmNames {
				asked[n]++
			}
		}
	}
	if want := []int{100, 100, 33}; !slices.Equal(batches, want) {
		t.Errorf("batches of %v names, want %v", batches, want)
	}
	for _, n := range names {
		if asked[n] != 1 {
			t.Errorf("%s asked %d times, want once", n, asked[n])
		}
	}
	// 100 names match 100 alarms: 15 pages of 7 (the last of 2); 33: 5.
	if want := 15 + 15 + 5; len(cw.calls) != want {
		t.Errorf("%d DescribeAlarms calls, want %d (every page of every batch)", len(cw.calls), want)
	}
}

func TestAlarmGateMissingAcrossPages(t *testing.T) {
	t.Parallel()
	// The alarm found on the second page is not missing; the one never
	// answered is.
	cw := &scriptedAlarms{metric: map[string]types.StateValue{"a": types.StateValueOk, "b": types.StateValueOk, "c": types.StateValueAlarm}, pageSize: 2}
	_, err := (&AlarmGate{client: cw, account: "prod"}).Firing(context.Background(), []string{"a", "b", "c", "d"})
	var missing *MissingAlarmsError
	if !errors.As(err, &missing) || !slices.Equal(missing.Names, []string{"d"}) {
		t.Fatalf("Firing = %v, want d missing", err)
	}
	if want := `CloudWatch alarm "d" does not exist in account prod`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
}

// failingAlarms answers every DescribeAlarms with err.
type failingAlarms struct{ err error }

func (f failingAlarms) DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return nil, f.err
}

func TestAlarmGateError(t *testing.T) {
	t.Parallel()
	denied := errors.New("AccessDenied: not authorized to perform cloudwatch:DescribeAlarms")
	g := &AlarmGate{client: failingAlarms{denied}, account: "prod"}
	got, err := g.Firing(context.Background(), []string{"a", "b", "c", "d", "e"})
	if !errors.Is(err, denied) {
		t.Fatalf("Firing = %v, %v; want the DescribeAlarms error wrapped", got, err)
	}
	if want := `read CloudWatch alarms "a", "b", "c" and 2 more of account prod: DescribeAlarms: AccessDenied`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
	if _, err := g.Firing(context.Background(), []string{"a", ""}); err == nil || !strings.Contains(err.Error(), "alarm name 1 is empty") {
		t.Errorf("Firing with an empty name: %v, want an error naming name 1", err)
	}
}
