package rivetq

import (
	"context"
	"sync"
)

// runningJob is a started job: its handler's cancel and its lease's heartbeat.
type runningJob struct {
	job    Job
	cancel context.CancelFunc
	beat   *heartbeat
}

// runningJobs are the jobs whose handlers have not returned, and counts the started
// jobs not yet settled. A job leaves the set once, whichever comes first: when its
// handler returns (its goroutine then acks or nacks it) or when the drain timeout
// gives it up (the drain nacks it). Whoever removes it settles it and then calls
// settled; the other leaves the job alone.
type runningJobs struct {
	mu        sync.Mutex
	jobs      map[*runningJob]struct{}
	unsettled sync.WaitGroup
}

// add records a started job; the lease loop calls it, never concurrently with
// allSettled.
func (r *runningJobs) add(run *runningJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs == nil {
		r.jobs = make(map[*runningJob]struct{})
	}
	r.jobs[run] = struct{}{}
	r.unsettled.Add(1)
}

// finish removes a job whose handler returned; false means the drain gave it up first.
func (r *runningJobs) finish(run *runningJob) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.jobs[run]; !ok {
		return false
	}
	delete(r.jobs, run)
	return true
}

// giveUp removes and returns every job whose handler has not returned.
func (r *runningJobs) giveUp() []*runningJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	runs := make([]*runningJob, 0, len(r.jobs))
	for run := range r.jobs {
		runs = append(runs, run)
	}
	r.jobs = nil
	return runs
}

// settled marks one job removed by finish or giveUp as acked, nacked or dropped.
func (r *runningJobs) settled() {
	r.unsettled.Done()
}

// allSettled returns a channel closed once every started job is settled.
func (r *runningJobs) allSettled() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		r.unsettled.Wait()
		close(done)
	}()
	return done
}
