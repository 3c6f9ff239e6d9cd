package rivetq_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

// runWorker starts a worker and returns a function that stops it and waits for Run.
func runWorker(t *testing.T, w *rivetq.Worker, ctx context.Context) (stop func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		w.Stop()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitOrCancel lets a handler block until the test releases it; the worker's
// DrainTimeout cancels ctx, so that a failing test does not hang in its cleanup.
func waitOrCancel(ctx context.Context, release <-chan struct{}) error {
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

// errorLog collects the errors a worker reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) has(target error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func TestWorkerAcksEveryJobItRuns(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	var ids []string
	for i := 0; i < 12; i++ {
		ids = append(ids, enqueue(t, c, q, i, nil))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	running, peak := 0, 0
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		mu.Lock()
		seen[job.ID]++
		running++
		if running > peak {
			peak = running
		}
		mu.Unlock()
		// The first handlers wait until four run at once, which only Concurrency 4 allows.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			full := peak == 4
			mu.Unlock()
			if full {
				break
			}
		}
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	}, rivetq.WorkerOptions{Concurrency: 4, WaitMs: 200})
	stop := runWorker(t, w, context.Background())
	eventually(t, "the queue is empty", func() bool {
		s := stats(t, c, q)
		return s.Ready+s.Inflight == 0 && s.AckedTotal == 12
	})
	stop()
	if peak != 4 {
		t.Fatalf("at most %d handlers ran at once, want 4", peak)
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("job %s ran %d times", id, seen[id])
		}
		assertGone(t, c, id)
	}
}

// pathCounter counts the requests a client sends, by URL path.
type pathCounter struct {
	mu    sync.Mutex
	paths map[string]int
}

func (p *pathCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.paths[r.URL.Path]++
	p.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (p *pathCounter) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paths[path]
}

func TestWorkerAcksInsideItsNextLeaseCall(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	for i := 0; i < 20; i++ {
		enqueue(t, c, q, i, nil)
	}
	calls := &pathCounter{paths: map[string]int{}}
	counted := rivetq.NewClient(requireEnv(t, "RIVETQ_URL"), rivetq.WithToken(requireEnv(t, "RIVETQ_TEST_TOKEN")),
		rivetq.WithHTTPClient(&http.Client{Transport: calls}))
	w := rivetq.NewWorker(counted, q, func(ctx context.Context, job rivetq.Job) error {
		time.Sleep(5 * time.Millisecond)
		return nil
	}, rivetq.WorkerOptions{Concurrency: 1, WaitMs: 200})
	stop := runWorker(t, w, context.Background())
	eventually(t, "20 acks", func() bool { return stats(t, c, q).AckedTotal == 20 })
	// One slot: no lease call is out when a job ends, so every ack rides on a lease.
	alone, leases := calls.count("/v1/ack"), calls.count("/v1/queues/"+q+"/lease")
	stop()
	if alone != 0 || leases < 20 {
		t.Fatalf("%d acks sent on their own, %d lease calls for 20 jobs", alone, leases)
	}
}

func TestWorkerRetriesFailuresThenDeadLetters(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	flaky := enqueue(t, c, q, "flaky", &rivetq.EnqueueOptions{MaxRetries: 2})
	doomed := enqueue(t, c, q, "doomed", &rivetq.EnqueueOptions{MaxRetries: 2})
	var mu sync.Mutex
	tries := map[string][]int{}
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		mu.Lock()
		tries[job.ID] = append(tries[job.ID], job.Tries)
		mu.Unlock()
		if job.ID == flaky && job.Tries == 1 {
			return nil
		}
		return rivetq.RetryAfter(0, errors.New("smtp is down"))
	}, rivetq.WorkerOptions{WaitMs: 200})
	stop := runWorker(t, w, context.Background())
	eventually(t, "one job is dead and one acked", func() bool {
		s := stats(t, c, q)
		return s.DLQ == 1 && s.AckedTotal == 1
	})
	stop()
	if want := []int{0, 1}; !reflect.DeepEqual(tries[flaky], want) {
		t.Fatalf("flaky job ran with tries %v, want %v", tries[flaky], want)
	}
	if want := []int{0, 1, 2}; !reflect.DeepEqual(tries[doomed], want) {
		t.Fatalf("doomed job ran with tries %v, want %v", tries[doomed], want)
	}
	dead := must(c.GetJob(ctxFor(t), doomed))(t)
	if dead.State != rivetq.StateDead || dead.LastError != "smtp is down" {
		t.Fatalf("dead job %+v", dead)
	}
}

func TestWorkerNacksAPanickingHandlerWithItsStack(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, &rivetq.EnqueueOptions{MaxRetries: rivetq.NoRetries})
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		panic("boom")
	}, rivetq.WorkerOptions{WaitMs: 200})
	stop := runWorker(t, w, context.Background())
	eventually(t, "the job is dead", func() bool { return stats(t, c, q).DLQ == 1 })
	stop()
	lastError := must(c.GetJob(ctxFor(t), id))(t).LastError
	if !strings.HasPrefix(lastError, "panic: boom") || !strings.Contains(lastError, "worker_test.go") {
		t.Fatalf("last error %q", lastError)
	}
}

// The control for the next test: without extension, a lease this short expires and
// the job is leased again.
func TestShortLeaseWithoutExtensionIsRedelivered(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	leaseOne(t, c, q, 300)
	eventually(t, "the job is leased again", func() bool {
		jobs := must(c.Lease(ctxFor(t), q, 1, 30000))(t)
		return len(jobs) == 1 && jobs[0].ID == id && jobs[0].Tries == 1
	})
}

func TestWorkerExtendsTheLeaseOfASlowJob(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	started, release := make(chan struct{}), make(chan struct{})
	runs := 0
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		runs++
		close(started)
		return waitOrCancel(ctx, release)
	}, rivetq.WorkerOptions{VisibilityMs: 400, WaitMs: 200, DrainTimeout: time.Second})
	stop := runWorker(t, w, context.Background())
	receive(t, started, "the handler starts")
	// Without extension the lease expires at 400 ms and the job is ready again after the
	// first retry's backoff (at most 1 s by default), so it would be redelivered by now.
	for end := time.Now().Add(1800 * time.Millisecond); time.Now().Before(end); {
		if jobs := must(c.Lease(ctxFor(t), q, 1, 30000))(t); len(jobs) != 0 {
			t.Fatalf("the running job was redelivered: %+v", jobs[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(release)
	eventually(t, "the job is acked", func() bool { return stats(t, c, q).AckedTotal == 1 })
	stop()
	assertGone(t, c, id)
	if runs != 1 {
		t.Fatalf("the handler ran %d times", runs)
	}
}

func TestWorkerStopFinishesInFlightJobsAndLeasesNoMore(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	first := enqueue(t, c, q, 1, nil)
	second := enqueue(t, c, q, 2, nil)
	started, release := make(chan struct{}, 2), make(chan struct{})
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		started <- struct{}{}
		return waitOrCancel(ctx, release)
	}, rivetq.WorkerOptions{Concurrency: 1, WaitMs: 200, DrainTimeout: 5 * time.Second})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	receive(t, started, "the handler starts")
	w.Stop()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	assertGone(t, c, first) // acked before Run returned
	if job := must(c.GetJob(ctxFor(t), second))(t); job.State != rivetq.StateReady {
		t.Fatalf("the second job is %s after stop", job.State)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("a second Run did not fail")
	}
}

func TestWorkerDrainTimeoutCancelsHandlersAndNacks(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	started := make(chan struct{})
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}, rivetq.WorkerOptions{WaitMs: 200, DrainTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	receive(t, started, "the handler starts")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	job := must(c.GetJob(ctxFor(t), id))(t)
	if job.State == rivetq.StateInflight || job.Tries != 1 || job.LastError != context.Canceled.Error() {
		t.Fatalf("job after drain timeout %+v", job)
	}
}

func TestWorkerCancelsTheHandlerWhenTheLeaseIsLost(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	started := make(chan struct{})
	var reported errorLog
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		close(started)
		<-ctx.Done()
		return nil
	}, rivetq.WorkerOptions{VisibilityMs: 300, WaitMs: 200, OnError: reported.add, DrainTimeout: time.Second})
	stop := runWorker(t, w, context.Background())
	receive(t, started, "the handler starts")
	must(c.PurgeQueue(ctxFor(t), q))(t) // deletes the inflight job under the worker
	eventually(t, "the lost lease is reported", func() bool { return reported.has(rivetq.ErrLeaseLost) })
	stop()
}
