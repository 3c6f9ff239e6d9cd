package rivetq_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
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

func (p *pathCounter) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	paths := make(map[string]int, len(p.paths))
	for path, n := range p.paths {
		paths[path] = n
	}
	return paths
}

// countedClient is a client for the test server whose requests calls counts.
func countedClient(t *testing.T, calls *pathCounter) *rivetq.Client {
	t.Helper()
	return rivetq.NewClient(requireEnv(t, "RIVETQ_URL"), rivetq.WithToken(requireEnv(t, "RIVETQ_TEST_TOKEN")),
		rivetq.WithHTTPClient(&http.Client{Transport: calls}))
}

func TestWorkerAcksInsideItsNextLeaseCall(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	for i := 0; i < 20; i++ {
		enqueue(t, c, q, i, nil)
	}
	calls := &pathCounter{paths: map[string]int{}}
	w := rivetq.NewWorker(countedClient(t, calls), q, func(ctx context.Context, job rivetq.Job) error {
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

// assertNackedByDrain checks that the drain timeout nacked the job (retried at once).
func assertNackedByDrain(t *testing.T, c *rivetq.Client, id string) {
	t.Helper()
	job := must(c.GetJob(ctxFor(t), id))(t)
	if job.State != rivetq.StateReady || job.Tries != 1 || !strings.Contains(job.LastError, "drain timed out") {
		t.Fatalf("job after the drain timeout: state %s, tries %d, last error %q", job.State, job.Tries, job.LastError)
	}
}

func TestWorkerDrainTimeoutCancelsHandlersAndNacks(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	started, cancelled := make(chan struct{}), make(chan struct{})
	w := rivetq.NewWorker(c, q, func(ctx context.Context, job rivetq.Job) error {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err() // dropped: the job was nacked already
	}, rivetq.WorkerOptions{WaitMs: 200, DrainTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	receive(t, started, "the handler starts")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	receive(t, cancelled, "the handler's ctx is cancelled")
	assertNackedByDrain(t, c, id)
}

func TestWorkerDrainTimeoutGivesUpAHandlerThatIgnoresCtx(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	calls := &pathCounter{paths: map[string]int{}}
	var reported errorLog
	started, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseHandler := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseHandler)
	const drainTimeout = time.Second
	w := rivetq.NewWorker(countedClient(t, calls), q, func(ctx context.Context, job rivetq.Job) error {
		defer close(returned)
		close(started)
		<-release // ignores ctx
		return nil
	}, rivetq.WorkerOptions{VisibilityMs: 600, WaitMs: 200, DrainTimeout: drainTimeout, OnError: reported.add})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	receive(t, started, "the handler starts")
	w.Stop()
	select {
	case err := <-done:
		check(t, err)
	case <-time.After(drainTimeout + 5*time.Second):
		t.Fatal("Run still waits for the handler 5 s after DrainTimeout")
	}
	assertNackedByDrain(t, c, id)
	before := calls.snapshot()
	reported.mu.Lock()
	errorsBefore := len(reported.errs)
	reported.mu.Unlock()

	// The abandoned handler no longer extends the lease (every 200 ms) and acks nothing.
	time.Sleep(700 * time.Millisecond)
	releaseHandler()
	receive(t, returned, "the handler returns")
	time.Sleep(300 * time.Millisecond)
	if after := calls.snapshot(); !reflect.DeepEqual(after, before) {
		t.Fatalf("requests after Run returned: %v, then %v", before, after)
	}
	reported.mu.Lock()
	errorsAfter := reported.errs[errorsBefore:]
	reported.mu.Unlock()
	if len(errorsAfter) != 0 {
		t.Fatalf("OnError called after Run returned: %v", errorsAfter)
	}
	assertNackedByDrain(t, c, id)
	if acked := stats(t, c, q).AckedTotal; acked != 0 {
		t.Fatalf("%d jobs acked", acked)
	}
}

// runUntilItStops runs w and returns Run's error, failing the test if Run has not
// returned by itself within 10 s.
func runUntilItStops(t *testing.T, w *rivetq.Worker) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		w.Stop()
		<-done
		t.Fatal("Run did not stop by itself within 10 s")
		return nil
	}
}

func failJob(ctx context.Context, job rivetq.Job) error {
	return errors.New("the handler ran")
}

func TestWorkerStopsOnAWrongToken(t *testing.T) {
	q := newQueue(t)
	wrong := rivetq.NewClient(requireEnv(t, "RIVETQ_URL"), rivetq.WithToken("not-"+requireEnv(t, "RIVETQ_TEST_TOKEN")))
	var reported errorLog
	w := rivetq.NewWorker(wrong, q, failJob, rivetq.WorkerOptions{WaitMs: 200, OnError: reported.add})
	err := runUntilItStops(t, w)
	assertIs(t, err, rivetq.ErrUnauthenticated)
	if len(reported.errs) != 0 {
		t.Fatalf("OnError got %v", reported.errs)
	}
}

func TestWorkerStopsOnAnOptionTheServerRejects(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	w := rivetq.NewWorker(c, q, failJob, rivetq.WorkerOptions{WaitMs: 30000}) // at most 20000
	err := runUntilItStops(t, w)
	assertIs(t, err, rivetq.ErrInvalidArgument)
	if s := stats(t, c, q); s.Ready != 1 {
		t.Fatalf("queue after the failed lease: %+v", s)
	}
}

func writeError(rw http.ResponseWriter, status int, code string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write([]byte(`{"error":{"code":"` + code + `","message":"from the test"}}`))
}

// Needs no rivetqd: a fake server answers the lease calls.
func TestWorkerRetriesTransientLeaseFailuresOnly(t *testing.T) {
	var leases atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch leases.Add(1) {
		case 1: // no reply at all
			conn, _, err := rw.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case 2:
			writeError(rw, http.StatusServiceUnavailable, "storage_unavailable")
		case 3: // a proxy's page
			rw.WriteHeader(http.StatusBadGateway)
			_, _ = rw.Write([]byte("<html>bad gateway</html>"))
		case 4:
			writeError(rw, http.StatusInternalServerError, "internal")
		default:
			writeError(rw, http.StatusUnauthorized, "unauthenticated")
		}
	}))
	t.Cleanup(fake.Close)
	var reported errorLog
	w := rivetq.NewWorker(rivetq.NewClient(fake.URL), "q", failJob,
		rivetq.WorkerOptions{WaitMs: 200, ErrorBackoff: 10 * time.Millisecond, OnError: reported.add})
	err := runUntilItStops(t, w)
	assertIs(t, err, rivetq.ErrUnauthenticated)
	if n := leases.Load(); n != 5 {
		t.Fatalf("%d lease calls, want 5", n)
	}
	var apiErr *rivetq.APIError
	if len(reported.errs) != 4 || errors.As(reported.errs[0], &apiErr) ||
		!errors.Is(reported.errs[1], rivetq.ErrUnavailable) || !errors.Is(reported.errs[2], rivetq.ErrUnavailable) ||
		!errors.As(reported.errs[3], &apiErr) || apiErr.Status != http.StatusInternalServerError {
		t.Fatalf("OnError got %v", reported.errs)
	}
}

func TestWorkerDrainsBeforeReturningALeaseError(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	target, err := url.Parse(requireEnv(t, "RIVETQ_URL"))
	check(t, err)
	server := httputil.NewSingleHostReverseProxy(target)
	var revoked atomic.Bool
	refused := make(chan struct{})
	var refusedOnce sync.Once
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if revoked.Load() && strings.HasSuffix(r.URL.Path, "/lease") {
			writeError(rw, http.StatusUnauthorized, "unauthenticated")
			refusedOnce.Do(func() { close(refused) })
			return
		}
		server.ServeHTTP(rw, r)
	}))
	t.Cleanup(proxy.Close)
	proxied := rivetq.NewClient(proxy.URL, rivetq.WithToken(requireEnv(t, "RIVETQ_TEST_TOKEN")))
	started, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseHandler := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseHandler)
	w := rivetq.NewWorker(proxied, q, func(ctx context.Context, job rivetq.Job) error {
		close(started)
		return waitOrCancel(ctx, release)
	}, rivetq.WorkerOptions{Concurrency: 2, WaitMs: 200, DrainTimeout: 10 * time.Second})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	receive(t, started, "the handler starts")
	revoked.Store(true) // the lease call for the free slot now fails
	receive(t, refused, "a lease call is refused")
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while a handler was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	releaseHandler()
	select {
	case err := <-done:
		assertIs(t, err, rivetq.ErrUnauthenticated)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the handler finished")
	}
	assertGone(t, c, id) // acked before Run returned
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
