package engine_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

// The power-loss test runs the engine on SQLite in a child process under
// strace, which records every write, truncation, flush (fsync, fdatasync)
// and removal the child makes to the database's files, and every line the
// child writes to its standard output. The child does what people do —
// save a pipeline, trigger, judge, pause, resume, cancel — and prints an
// acknowledgment line once each call has returned, and one for each event
// its event stream delivered (stage and execution completions among them).
//
// The test then replays the record as a disk with a volatile cache would
// see it: a write changes the cached file; only a completed flush of the
// file puts what the file held when the flush began on the disk, and only a
// flush of the directory makes a file's name (its creation or removal)
// durable. At each acknowledgment it cuts the power: the database files as
// the disk holds them at that moment are copied out and opened, and every
// change acknowledged so far must be there.
//
// The same run with sqlite.WithRelaxedCommits, the setting before commits
// were durable (synchronous=NORMAL with nothing else), must lose something:
// that proves the replay drops what was never flushed.

const (
	powerLossDBEnv      = "SLUICE_TEST_POWERLOSS_DB"
	powerLossRelaxedEnv = "SLUICE_TEST_POWERLOSS_RELAXED"
	ackPrefix           = "SLUICE-ACK "
)

func TestAcknowledgedSurvivesPowerLoss(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed; the test records the child's file system calls with it")
	}
	for _, relaxed := range []bool{false, true} {
		name := "durable"
		if relaxed {
			name = "relaxed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := filepath.Join(dir, "sluice.db")
			trace := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command("strace", "-f", "-qq", "--seccomp-bpf", "-e", "signal=none", "-xx", "-s", "1000000",
				"-e", "trace=open,openat,creat,close,write,pwrite64,writev,pwritev,pwritev2,ftruncate,fsync,fdatasync,"+
					"unlink,unlinkat,rename,renameat,renameat2,dup,dup2,dup3,fallocate,sync_file_range",
				"-o", trace, os.Args[0], "-test.run", "^TestPowerLossChild$", "-test.count", "1")
			cmd.Env = append(os.Environ(), powerLossDBEnv+"="+db)
			if relaxed {
				cmd.Env = append(cmd.Env, powerLossRelaxedEnv+"=1")
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				if strings.Contains(string(out), "PTRACE") || strings.Contains(string(out), "ptrace") {
					t.Skipf("strace cannot trace here: %s", out)
				}
				t.Fatalf("child: %v\n%s", err, out)
			}
			d := &disk{dir: dir, fds: map[int]string{}, cache: map[string][]byte{}, durable: map[string][]byte{},
				names: map[string]bool{}, flushing: map[int]pendingFlush{}, pending: map[int]string{}}
			var acks []ack
			lost := ""
			cut := func() {
				if lost != "" {
					return
				}
				if err := d.checkImage(t, acks); err != nil {
					lost = fmt.Sprintf("power cut after acknowledgment %d (%s): %v", len(acks), acks[len(acks)-1], err)
				}
			}
			if err := d.replay(trace, func(a ack) {
				acks = append(acks, a)
				if a.kind != "event" { // events are checked at the next cut
					cut()
				}
			}); err != nil {
				t.Fatal(err)
			}
			cut()
			if len(acks) < 10 {
				t.Fatalf("the child acknowledged %d changes, want at least 10: %v", len(acks), acks)
			}
			switch {
			case !relaxed && lost != "":
				t.Errorf("an acknowledged change was lost: %s", lost)
			case relaxed && lost == "":
				t.Errorf("with relaxed commits no acknowledged change of %d was lost: the replay does not drop unflushed writes", len(acks))
			case relaxed:
				t.Logf("relaxed commits, as expected, lose: %s", lost)
			}
		})
	}
}

// TestPowerLossChild is the child of TestAcknowledgedSurvivesPowerLoss.
func TestPowerLossChild(t *testing.T) {
	path := os.Getenv(powerLossDBEnv)
	if path == "" {
		t.Skip("run by TestAcknowledgedSurvivesPowerLoss")
	}
	var opts []sqlite.Option
	if os.Getenv(powerLossRelaxedEnv) != "" {
		opts = append(opts, sqlite.WithRelaxedCommits())
	}
	st, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the engine stops
	b := setupWith(t, st)
	// One write per line, so that strace records it whole.
	acked := func(kind, id string) {
		if _, err := os.Stdout.WriteString(ackPrefix + kind + " " + id + "\n"); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub := b.engine.Subscribe(ctx, "", 0)
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		for ev := range sub.C {
			acked("event", strconv.FormatInt(ev.ID, 10))
		}
	}()

	p := b.save(t, `{"application":"app","name":"held","stages":[
		{"refId":"1","type":"manualJudgment","name":"Approve"},
		{"refId":"2","type":"wait","name":"Settle","waitTime":0,"requisiteStageRefIds":["1"]}]}`)
	acked("pipeline", p.ID)
	for range 3 {
		x := b.trigger(t, p, nil)
		acked("execution", x.ID)
		b.waitStage(t, x.ID, "1", status.Running)
		if err := b.engine.Judge(ctx, x.ID, "1", engine.Judgment{Status: "continue", User: "tester"}); err != nil {
			t.Fatal(err)
		}
		acked("judged", x.ID)
		b.waitStatus(t, x.ID, status.Succeeded)
		acked("succeeded", x.ID)
	}
	x := b.trigger(t, p, nil)
	acked("execution", x.ID)
	b.waitStage(t, x.ID, "1", status.Running)
	if err := b.engine.Pause(ctx, x.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	acked("paused", x.ID)
	if err := b.engine.Resume(ctx, x.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	acked("resumed", x.ID)
	if err := b.engine.Cancel(ctx, x.ID, "tester", "power-loss test"); err != nil {
		t.Fatal(err)
	}
	acked("canceled", x.ID)
	b.waitStatus(t, x.ID, status.Canceled)
	cancel()
	<-streamed
}

// ack is one acknowledgment line of the child: what kind of change, and
// the ID of what changed.
type ack struct{ kind, id string }

func (a ack) String() string { return a.kind + " " + a.id }

// checkImage copies out the files as the disk holds them and checks that
// every acknowledged change is there.
func (d *disk) checkImage(t *testing.T, acks []ack) error {
	img := t.TempDir()
	for name := range d.names {
		base := filepath.Base(name)
		if strings.HasSuffix(base, "-shm") || strings.HasSuffix(base, ".lock") {
			continue // rebuilt by SQLite; the lock of package lockfile
		}
		if err := os.WriteFile(filepath.Join(img, base), d.durable[name], 0o600); err != nil {
			return err
		}
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(img, "sluice.db"))
	if err != nil {
		return fmt.Errorf("open the database the disk holds: %w", err)
	}
	defer st.Close()
	for _, a := range acks {
		if err := checkAck(ctx, st, a); err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
	}
	return nil
}

func checkAck(ctx context.Context, st store.Store, a ack) error {
	switch a.kind {
	case "pipeline":
		_, err := st.PipelineGetByID(ctx, a.id)
		return err
	case "event":
		id, _ := strconv.ParseInt(a.id, 10, 64)
		evs, err := st.EventList(ctx, &store.EventListParams{Batches: []int64{store.EventBatch(id)}, AfterID: id - 1, Limit: 1})
		if err == nil && (len(evs) == 0 || evs[0].ID != id) {
			err = errors.New("event not found")
		}
		return err
	}
	x, err := st.ExecutionGet(ctx, a.id)
	if err != nil {
		return err
	}
	switch a.kind {
	case "execution":
		return nil
	case "succeeded":
		if x.Status != status.Succeeded {
			return fmt.Errorf("status %s", x.Status)
		}
		return nil
	case "canceled":
		if !x.Canceled {
			return errors.New("not canceled")
		}
		return nil
	}
	evs, err := st.EventList(ctx, &store.EventListParams{ExecutionID: a.id, Limit: 1000})
	if err != nil {
		return err
	}
	var statuses []status.Status
	judged := false
	for _, ev := range evs {
		switch apitype.EventType(ev.Type) {
		case apitype.EventStageJudged:
			judged = true
		case apitype.EventExecutionStatus:
			var data apitype.ExecutionStatusData
			json.Unmarshal(ev.Data, &data)
			statuses = append(statuses, data.Status)
		}
	}
	paused := slices.Index(statuses, status.Paused)
	switch {
	case a.kind == "judged" && !judged:
		return errors.New("no judgment")
	case a.kind == "paused" && paused < 0:
		return fmt.Errorf("never paused; statuses %v", statuses)
	case a.kind == "resumed" && (paused < 0 || !slices.Contains(statuses[paused+1:], status.Running)):
		return fmt.Errorf("not resumed; statuses %v", statuses)
	}
	return nil
}

// disk replays a strace record of the files under dir as a disk with a
// volatile cache holds them.
type disk struct {
	dir      string
	fds      map[int]string    // open descriptors of files under dir (and of dir)
	cache    map[string][]byte // what each file holds for the processes
	durable  map[string][]byte // what the disk holds of each file's data
	names    map[string]bool   // the files whose names the disk holds
	flushing map[int]pendingFlush
	pending  map[int]string // a call's first half, by thread, until it resumes
}

// pendingFlush is a flush that began (so covers the cache as it was then)
// and has not returned.
type pendingFlush struct {
	path string
	data []byte
	dir  []string // for a flush of dir: the names then
}

var (
	traceLine   = regexp.MustCompile(`^(\d+) +(.*)$`)
	traceCall   = regexp.MustCompile(`^([a-z0-9_]+)\((.*)\) += (-?\d+)`)
	traceResume = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
	traceString = regexp.MustCompile(`"((?:\\x[0-9a-f]{2})*)"(\.\.\.)?`)
)

// replay reads the record at path in order, calling acked for each
// acknowledgment line the child wrote.
func (d *disk) replay(path string, acked func(ack)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		m := traceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		tid, _ := strconv.Atoi(m[1])
		line := m[2]
		if rest, ok := strings.CutSuffix(line, " <unfinished ...>"); ok {
			d.pending[tid] = rest
			d.begin(tid, rest)
			continue
		}
		if r := traceResume.FindStringSubmatch(line); r != nil {
			first, ok := d.pending[tid]
			if !ok {
				return fmt.Errorf("trace: %q resumes nothing", line)
			}
			delete(d.pending, tid)
			line = first + r[2]
		} else {
			d.begin(tid, line)
		}
		c := traceCall.FindStringSubmatch(line)
		if c == nil {
			continue // exits, and calls strace could not finish
		}
		ret, _ := strconv.Atoi(c[3])
		if err := d.end(tid, c[1], c[2], ret, acked); err != nil {
			return fmt.Errorf("trace: %w: %.200s", err, line)
		}
	}
	return sc.Err()
}

// begin notes what a flush covers when it begins.
func (d *disk) begin(tid int, call string) {
	name, args, _ := strings.Cut(call, "(")
	if name != "fsync" && name != "fdatasync" {
		return
	}
	digits := strings.IndexFunc(args, func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(args)
	}
	fd, _ := strconv.Atoi(args[:digits])
	path, ok := d.fds[fd]
	if !ok {
		return
	}
	pf := pendingFlush{path: path, data: slices.Clone(d.cache[path])}
	if path == d.dir {
		for n := range d.cache {
			pf.dir = append(pf.dir, n)
		}
	}
	d.flushing[tid] = pf
}

// end applies a call that returned ret.
func (d *disk) end(tid int, name, args string, ret int, acked func(ack)) error {
	strs := traceString.FindAllStringSubmatch(args, -1)
	str := func(i int) ([]byte, error) {
		if i >= len(strs) {
			return nil, errors.New("no string argument")
		}
		if strs[i][2] != "" {
			return nil, errors.New("string argument cut short")
		}
		return hex.DecodeString(strings.ReplaceAll(strs[i][1], `\x`, ""))
	}
	fields := strings.Split(traceString.ReplaceAllString(args, `S`), ", ")
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(fields[i]), 0, 64)
		return n
	}
	fd := int(num(0))
	path, tracked := d.fds[fd]
	switch name {
	case "openat", "open", "creat":
		b, err := str(0)
		if err != nil || ret < 0 {
			return err
		}
		p := string(b)
		if !filepath.IsAbs(p) {
			return fmt.Errorf("relative path %q", p)
		}
		delete(d.fds, ret)
		if p == d.dir || filepath.Dir(p) == d.dir {
			d.fds[ret] = p
			if _, ok := d.cache[p]; !ok && p != d.dir {
				d.cache[p] = nil // created
			}
			if strings.Contains(args, "O_TRUNC") {
				d.cache[p] = nil
			}
		}
	case "close":
		if ret == 0 {
			delete(d.fds, fd)
		}
	case "pwrite64":
		if !tracked || ret < 0 {
			return nil
		}
		b, err := str(0)
		if err != nil {
			return err
		}
		d.write(path, b[:ret], num(3))
	case "write":
		b, err := str(0)
		if err != nil {
			return err
		}
		if fd == 1 {
			for _, l := range strings.Split(string(b[:max(ret, 0)]), "\n") {
				if rest, ok := strings.CutPrefix(l, ackPrefix); ok {
					kind, id, _ := strings.Cut(rest, " ")
					acked(ack{kind: kind, id: id})
				}
			}
		} else if tracked && strings.HasSuffix(path, "-shm") {
			// the WAL index: SQLite rebuilds it after a crash
		} else if tracked {
			return errors.New("write without an offset to a database file: not modelled")
		}
	case "ftruncate":
		if tracked && ret == 0 {
			n := num(1)
			c := d.cache[path]
			if int64(len(c)) > n {
				d.cache[path] = c[:n]
			} else {
				d.cache[path] = append(c, make([]byte, n-int64(len(c)))...)
			}
		}
	case "fsync", "fdatasync":
		pf, ok := d.flushing[tid]
		delete(d.flushing, tid)
		if !ok || ret != 0 {
			return nil
		}
		if pf.path == d.dir {
			d.names = map[string]bool{}
			for _, n := range pf.dir {
				d.names[n] = true
			}
		} else {
			d.durable[pf.path] = pf.data
		}
	case "unlink", "unlinkat":
		b, err := str(0) // unlinkat's directory is a number, not a string
		if err != nil || ret != 0 {
			return err
		}
		delete(d.cache, string(b))
	case "writev", "pwritev", "pwritev2", "fallocate", "rename", "renameat", "renameat2", "dup", "dup2", "dup3", "sync_file_range":
		if tracked {
			return fmt.Errorf("%s on a database file: not modelled", name)
		}
	}
	return nil
}

func (d *disk) write(path string, b []byte, off int64) {
	c := d.cache[path]
	if end := off + int64(len(b)); int64(len(c)) < end {
		c = append(c, make([]byte, end-int64(len(c)))...)
	}
	copy(c[off:], b)
	d.cache[path] = c
}

// TestPostgresCommitsWaitForTheDisk checks, on Postgres, the setting that
// makes a commit durable: synchronous_commit, which, when it is on (the
// server's default), makes COMMIT return only once the transaction's WAL
// is flushed to the disk, and makes the transaction visible to other
// sessions only then. The engine once set it off for its jobs' own
// transactions; a stage completion could then be reported (events, the
// next stage calling out) and lost in a crash of the server's machine. The
// test reads the effective setting inside every engine transaction, on
// the connection that commits it, just before the commit — job
// completions and people's operations alike.
func TestPostgresCommitsWaitForTheDisk(t *testing.T) {
	st := postgresStore(t)
	ctx := context.Background()
	var seen struct {
		sync.Mutex
		jobs, others int
		bad          []string
	}
	e, err := engine.New(ctx, engine.Config{Store: st, Stages: stage.NewRegistry(wait.Type{}, judgment.Type{})})
	if err != nil {
		t.Fatal(err)
	}
	engine.BeforeCommit(e, func(ctx context.Context, tx store.Tx, completed bool) error {
		raw, err := postgres.DriverTx(ctx, tx)
		if err != nil {
			return err
		}
		var setting string
		if err := raw.QueryRow(ctx, "SHOW synchronous_commit").Scan(&setting); err != nil {
			return err
		}
		seen.Lock()
		defer seen.Unlock()
		if completed {
			seen.jobs++
		} else {
			seen.others++
		}
		if setting != "on" && setting != "remote_write" && setting != "remote_apply" {
			seen.bad = append(seen.bad, fmt.Sprintf("%s (a job completion: %v)", setting, completed))
		}
		return nil
	})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	b := &bundle{engine: e, store: st}
	p := b.save(t, `{"application":"app","name":"sync","stages":[
		{"refId":"1","type":"manualJudgment","name":"Approve"},
		{"refId":"2","type":"wait","name":"Settle","waitTime":0,"requisiteStageRefIds":["1"]}]}`)
	x := b.trigger(t, p, nil)
	b.waitStage(t, x.ID, "1", status.Running)
	if err := e.Judge(ctx, x.ID, "1", engine.Judgment{Status: "continue", User: "tester"}); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(t, x.ID, status.Succeeded)
	seen.Lock()
	defer seen.Unlock()
	// Jobs: each stage's. Others: the trigger, which starts the execution,
	// and the judgment.
	if seen.jobs < 2 || seen.others < 2 {
		t.Fatalf("saw %d transactions that completed a job and %d others, want at least 2 and 2", seen.jobs, seen.others)
	}
	if len(seen.bad) > 0 {
		t.Errorf("engine transactions committed with synchronous_commit %v; want on: a commit must wait for the disk", seen.bad)
	}
}
