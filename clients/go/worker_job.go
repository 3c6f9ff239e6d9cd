package rivetq

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
)

// maxReasonBytes is the server's limit on a nack reason.
const maxReasonBytes = 65536

// RetryAfter wraps a handler's error so that the job is retried after delay instead of
// the queue's backoff (0 retries it at once). errors.Is/As see through it.
func RetryAfter(delay time.Duration, err error) error {
	return &retryAfterError{delay: delay, err: err}
}

type retryAfterError struct {
	delay time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// start runs the handler on a leased job in a goroutine of its own while keeping the
// job's lease; release is called when the handler returns.
func (w *Worker) start(parent context.Context, job Job, release func()) {
	ctx, cancel := context.WithCancel(parent)
	run := &runningJob{job: job, cancel: cancel}
	run.beat = w.startHeartbeat(job, cancel)
	w.running.add(run) // before Run can drain: the lease loop calls start
	go func() {
		defer release()
		w.process(ctx, run)
	}()
}

// process runs the handler, then acks or nacks the job, unless the drain timeout gave
// the job up first: then the handler's result is dropped and the server not called.
func (w *Worker) process(ctx context.Context, run *runningJob) {
	defer run.cancel()
	err := w.runHandler(ctx, run.job)
	if !w.running.finish(run) {
		return
	}
	defer w.running.settled()
	if run.beat.stop() {
		w.opts.OnError(fmt.Errorf("rivetq worker: job %s: not acked: %w", run.job.ID, ErrLeaseLost))
		return
	}
	w.settle(run.job, err)
}

// nackGivenUp nacks a job whose handler did not return within the drain timeout, for
// another worker to run it at once.
func (w *Worker) nackGivenUp(run *runningJob) {
	job := run.job
	if run.beat.stop() {
		w.opts.OnError(fmt.Errorf("rivetq worker: job %s: not nacked: %w", job.ID, ErrLeaseLost))
		return
	}
	reason := fmt.Sprintf("rivetq worker: drain timed out: the handler did not return within DrainTimeout (%s)",
		w.opts.DrainTimeout)
	opts := &NackOptions{Reason: reason, DelayMs: NoDelay}
	if _, err := w.client.Nack(context.Background(), job.ID, job.LeaseID, opts); err != nil {
		w.opts.OnError(fmt.Errorf("rivetq worker: job %s: nack: %w", job.ID, err))
	}
}

func (w *Worker) runHandler(ctx context.Context, job Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return w.handler(ctx, job)
}

// settle acks a job whose handler succeeded and nacks one whose handler failed.
func (w *Worker) settle(job Job, handlerErr error) {
	ctx := context.Background() // the client's timeout bounds it; a stopping worker still settles
	if handlerErr == nil {
		if ack := (Ack{JobID: job.ID, LeaseID: job.LeaseID}); !w.acks.offer(ack) {
			w.ackAlone(ack)
		}
		return
	}
	opts := &NackOptions{Reason: truncateReason(handlerErr.Error())}
	var retry *retryAfterError
	if errors.As(handlerErr, &retry) {
		opts.DelayMs = int(retry.delay / time.Millisecond)
		if opts.DelayMs <= 0 {
			opts.DelayMs = NoDelay
		}
	}
	if _, err := w.client.Nack(ctx, job.ID, job.LeaseID, opts); err != nil {
		w.opts.OnError(fmt.Errorf("rivetq worker: job %s: nack: %w", job.ID, err))
	}
}

// ackAlone sends one ack in a call of its own.
func (w *Worker) ackAlone(ack Ack) {
	if err := w.client.Ack(context.Background(), ack.JobID, ack.LeaseID); err != nil {
		w.opts.OnError(fmt.Errorf("rivetq worker: job %s: ack: %w", ack.JobID, err))
	}
}

// reportAcks passes the acks a lease call reports as failed to OnError.
func (w *Worker) reportAcks(results []AckResult) {
	for _, result := range results {
		if result.Err != nil {
			w.opts.OnError(fmt.Errorf("rivetq worker: job %s: ack: %w", result.JobID, result.Err))
		}
	}
}

func truncateReason(reason string) string {
	if len(reason) <= maxReasonBytes {
		return reason
	}
	return strings.ToValidUTF8(reason[:maxReasonBytes-len("…")], "") + "…"
}

// heartbeat extends a job's lease every VisibilityMs/3 until stopped.
type heartbeat struct {
	halt     chan struct{}
	finished chan struct{}
	lost     atomic.Bool
}

// startHeartbeat keeps job leased; when the lease is lost it cancels the handler.
func (w *Worker) startHeartbeat(job Job, cancelHandler context.CancelFunc) *heartbeat {
	beat := &heartbeat{halt: make(chan struct{}), finished: make(chan struct{})}
	interval := time.Duration(w.opts.VisibilityMs) * time.Millisecond / 3
	go func() {
		defer close(beat.finished)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-beat.halt:
				return
			case <-ticker.C:
			}
			if w.extend(job, 2*interval) {
				beat.lost.Store(true)
				cancelHandler()
				return
			}
		}
	}()
	return beat
}

// extend renews job's lease and reports whether the lease is lost; it reports other
// errors and keeps trying on the next beat, while the lease may still be valid.
func (w *Worker) extend(job Job, timeout time.Duration) (lost bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := w.client.Extend(ctx, job.ID, job.LeaseID, w.opts.VisibilityMs)
	if errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrJobNotFound) {
		return true
	}
	if err != nil {
		w.opts.OnError(fmt.Errorf("rivetq worker: job %s: extend: %w", job.ID, err))
	}
	return false
}

// stop halts the heartbeat and reports whether the lease was lost.
func (b *heartbeat) stop() bool {
	close(b.halt)
	<-b.finished
	return b.lost.Load()
}
