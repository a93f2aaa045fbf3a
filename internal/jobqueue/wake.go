package jobqueue

import (
	"context"

	"github.com/riverqueue/river/riverdriver"
)

// signal is a one-slot flag: raising it never blocks, and what is raised
// before the next receive counts once.
type signal chan struct{}

func newSignal() signal { return make(signal, 1) }

func (s signal) raise() {
	select {
	case s <- struct{}{}:
	default: // already raised
	}
}

// waker makes a River listener (wakingListener) answer at once with an
// insert notification, so that this process's producer fetches jobs
// without waiting for the database to tell it.
type waker struct{ wake signal }

func newWaker() waker { return waker{newSignal()} }

// fetchNow wakes the listener.
func (w waker) fetchNow() { w.wake.raise() }

// listener wraps l. Notifications whose payload is own, when not empty,
// are this process's own, sent to the others after it woke itself: they
// are not passed on, which would only make the producer fetch again.
func (w waker) listener(l riverdriver.Listener, own string) riverdriver.Listener {
	return &wakingListener{Listener: l, wake: w.wake, own: own}
}

type wakingListener struct {
	riverdriver.Listener
	wake <-chan struct{}
	own  string
}

// insertNotification is what River's producer listens for to fetch jobs of
// the default queue.
var insertNotification = riverdriver.Notification{Topic: "river_insert", Payload: `{"queue":"default"}`}

// WaitForNotification waits as River's listener does, but a wake-up ends
// the wait with an insert notification, and the process's own
// notifications are skipped.
func (l *wakingListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		n, err := l.wait(ctx)
		if err == nil && n != nil && l.own != "" && n.Payload == l.own {
			continue
		}
		return n, err
	}
}

func (l *wakingListener) wait(ctx context.Context) (*riverdriver.Notification, error) {
	select {
	case <-l.wake:
		n := insertNotification
		return &n, nil
	default:
	}
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	woken := make(chan struct{})
	go func() {
		select {
		case <-l.wake:
			close(woken)
			cancel()
		case <-waitCtx.Done():
		}
	}()
	n, err := l.Listener.WaitForNotification(waitCtx)
	select {
	case <-woken:
		n := insertNotification
		return &n, nil
	default:
	}
	return n, err
}
