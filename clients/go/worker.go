package rivetq

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"
)

// Handler processes one job. Returning nil acks the job; returning an error nacks it
// with the error's text as the reason (wrap it with RetryAfter to choose the delay).
// A panic is recovered and nacks the job with the panic value and stack.
//
// ctx is cancelled when the job's lease is lost (another worker may now run it) or
// when a stopping worker's DrainTimeout has passed. In both cases the handler's result
// no longer counts: the job is not acked or nacked when it returns.
type Handler func(ctx context.Context, job Job) error

// WorkerOptions tune a Worker; zero values take the defaults below.
type WorkerOptions struct {
	// Concurrency is how many handlers run at once (default 1).
	Concurrency int
	// VisibilityMs is the lease length (default 30000). The worker extends the lease
	// every VisibilityMs/3 while the handler runs, so a slow job is not redelivered.
	VisibilityMs int
	// WaitMs is the long-poll wait of each lease call (default 5000, at most 20000:
	// the server rejects more, and Run returns that ErrInvalidArgument).
	WaitMs int
	// DrainTimeout bounds a graceful stop: in-flight handlers get this long to finish.
	// Then the worker nacks the jobs whose handlers have not returned (a failed try,
	// retried at once, the reason saying the drain timed out), cancels their contexts
	// and Run returns without waiting for them; what such a handler returns later is
	// dropped (it acks, nacks and extends nothing). Zero waits for handlers however
	// long they take.
	DrainTimeout time.Duration
	// ErrorBackoff is the pause after a lease call that failed transiently (default 1 s).
	ErrorBackoff time.Duration
	// IdleBackoff is the pause after a lease that came back empty before its wait
	// ended, as it does for a paused or rate-limited queue (default 250 ms).
	IdleBackoff time.Duration
	// OnError receives the errors that do not stop the worker: lease calls that failed
	// transiently (no reply, ErrUnavailable or another 5xx status; retried after
	// ErrorBackoff), failed acks, nacks and extends, and lost leases
	// (errors.Is(err, ErrLeaseLost)). It is not called after Run has returned.
	// Default: log.
	OnError func(error)
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.VisibilityMs <= 0 {
		o.VisibilityMs = 30000
	}
	if o.WaitMs <= 0 {
		o.WaitMs = 5000
	}
	if o.ErrorBackoff <= 0 {
		o.ErrorBackoff = time.Second
	}
	if o.IdleBackoff <= 0 {
		o.IdleBackoff = 250 * time.Millisecond
	}
	if o.OnError == nil {
		o.OnError = func(err error) { log.Print(err) }
	}
	return o
}

// Worker leases jobs of one queue and runs a Handler on each.
type Worker struct {
	client   *Client
	queue    string
	handler  Handler
	opts     WorkerOptions
	started  atomic.Bool
	stopOnce sync.Once
	stopping chan struct{}
	acks     pendingAcks
	running  runningJobs
}

// NewWorker returns a worker that runs handler on the jobs of queue.
func NewWorker(client *Client, queue string, handler Handler, opts WorkerOptions) *Worker {
	return &Worker{
		client:   client,
		queue:    queue,
		handler:  handler,
		opts:     opts.withDefaults(),
		stopping: make(chan struct{}),
	}
}

// Stop asks Run to stop gracefully: no more leases; in-flight jobs finish and are
// acked or nacked (within DrainTimeout, if set). It does not wait; Run returns when the
// worker has drained. Stop is safe to call from any goroutine, more than once.
func (w *Worker) Stop() {
	w.stopOnce.Do(func() { close(w.stopping) })
}

// stopRequested reports whether Stop was called; ctx follows it only a moment later.
func (w *Worker) stopRequested() bool {
	select {
	case <-w.stopping:
		return true
	default:
		return false
	}
}

// Run leases and processes jobs until ctx is done or Stop is called, then drains
// gracefully (as Stop describes) and returns nil. A long-poll cut short by the stop
// may leave a job leased on the server; it is redelivered when its lease expires.
// Handlers' contexts carry ctx's values but not its cancellation.
//
// A lease call that fails with an error that will not go away by retrying stops the
// worker: Run drains as above and returns that error, e.g. one matching
// ErrUnauthenticated (wrong token) or ErrInvalidArgument (an option the server
// rejects, such as WaitMs over 20000). Only failures that may pass are retried after
// ErrorBackoff, each passed to OnError: no reply (a network error or timeout), and
// replies with ErrUnavailable or another 5xx status.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("rivetq: Worker.Run called more than once")
	}
	leaseCtx, cancelLeases := context.WithCancel(ctx)
	defer cancelLeases()
	go func() {
		select {
		case <-leaseCtx.Done():
		case <-w.stopping:
		}
		cancelLeases()
	}()
	jobsCtx, abandonJobs := context.WithCancel(detached{ctx})
	defer abandonJobs()
	err := w.leaseLoop(leaseCtx, func(job Job, release func()) {
		w.start(jobsCtx, job, release)
	})
	for _, ack := range w.acks.close() {
		w.ackAlone(ack)
	}
	w.drain(abandonJobs)
	return err
}

// leaseLoop leases as many jobs as there are free slots and starts each one, until
// ctx is done or a lease call fails with an error that is not transient, which it
// returns; each lease call carries the acks of the jobs finished since the last one.
// start must call release when the job is finished.
func (w *Worker) leaseLoop(ctx context.Context, start func(job Job, release func())) error {
	slots := make(chan struct{}, w.opts.Concurrency)
	release := func() { <-slots }
	for {
		free := acquireSlots(ctx, slots)
		if free == 0 || w.stopRequested() {
			return nil
		}
		began := time.Now()
		acks := w.acks.take()
		callCtx, waitMs := ctx, w.opts.WaitMs
		if len(acks) > 0 {
			// A call carrying acks returns at once and a stop does not cut it, so an ack
			// the server applied is never resent alone (and reported lost) on shutdown.
			callCtx, waitMs = detached{ctx}, 0
		}
		results, jobs, err := w.client.AckAndLease(callCtx, acks, w.queue, LeaseOptions{
			MaxJobs: free, VisibilityMs: w.opts.VisibilityMs, WaitMs: waitMs,
		})
		undelivered := acks
		if err == nil {
			undelivered = nil
			w.reportAcks(results)
		}
		for unused := free - len(jobs); unused > 0; unused-- {
			release()
		}
		if err != nil && ctx.Err() == nil && !transient(err) {
			w.acks.leased(undelivered) // sent alone once the loop has ended
			return fmt.Errorf("rivetq worker: lease %q: %w", w.queue, err)
		}
		switch { // only when no job came: the jobs below start after any backoff
		case err != nil && ctx.Err() == nil:
			w.opts.OnError(fmt.Errorf("rivetq worker: lease %q: %w", w.queue, err))
			sleepCtx(ctx, w.opts.ErrorBackoff)
		case len(jobs) == 0 && waitMs > 0 && time.Since(began) < time.Duration(waitMs)*time.Millisecond:
			sleepCtx(ctx, w.opts.IdleBackoff)
		}
		w.acks.leased(undelivered) // only now: during a backoff, acks go alone
		for _, job := range jobs {
			start(job, release)
		}
	}
}

// acquireSlots waits for one free slot, then takes every other free one; it returns
// how many it took (0 when ctx is done first).
func acquireSlots(ctx context.Context, slots chan struct{}) int {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	taken := 1
	for taken < cap(slots) {
		select {
		case slots <- struct{}{}:
			taken++
		default:
			return taken
		}
	}
	return taken
}

// transient reports whether a failed call may succeed when tried again: no reply came
// (a network error or timeout), or the server or a proxy is unavailable (5xx).
func transient(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return true
	}
	return errors.Is(err, ErrUnavailable) || apiErr.Status >= 500
}

// drain waits until every started job is settled. After DrainTimeout (if set) it gives
// up the jobs whose handlers are still running: it nacks them, cancels their contexts
// and stops waiting for their handlers (it still waits for the acks and nacks of the
// jobs whose handlers returned in time).
func (w *Worker) drain(abandon context.CancelFunc) {
	settled := w.running.allSettled()
	if w.opts.DrainTimeout <= 0 {
		<-settled
		return
	}
	timer := time.NewTimer(w.opts.DrainTimeout)
	defer timer.Stop()
	select {
	case <-settled:
		return
	case <-timer.C:
	}
	givenUp := w.running.giveUp()
	abandon() // only now, so that no handler returning ctx.Err() settles a job given up
	for _, run := range givenUp {
		go func(run *runningJob) {
			defer w.running.settled()
			w.nackGivenUp(run)
		}(run)
	}
	<-settled
}

func sleepCtx(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// detached keeps a context's values but not its deadline or cancellation (Go 1.21's
// context.WithoutCancel, for Go 1.19).
type detached struct{ context.Context }

func (detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (detached) Done() <-chan struct{}       { return nil }
func (detached) Err() error                  { return nil }
