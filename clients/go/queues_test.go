package rivetq_test

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

func TestListQueuesAndStatsCountJobs(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	enqueue(t, c, q, 2, &rivetq.EnqueueOptions{DelayMs: 60000})
	enqueue(t, c, q, 3, nil)
	job := leaseOne(t, c, q, 30000)
	check(t, c.Ack(ctxFor(t), job.ID, job.LeaseID))
	leaseOne(t, c, q, 30000)

	var summary *rivetq.QueueSummary
	for _, s := range must(c.ListQueues(ctxFor(t)))(t) {
		if s.Name == q {
			s := s
			summary = &s
		}
	}
	want := rivetq.QueueSummary{Name: q, Ready: 0, Delayed: 1, Inflight: 1, EnqueuedTotal: 3, LeasedTotal: 2, AckedTotal: 1}
	if summary == nil || *summary != want {
		t.Fatalf("ListQueues has %+v, want %+v", summary, want)
	}
	got := stats(t, c, q)
	if got.Queue != q || got.Delayed != 1 || got.Inflight != 1 || got.EnqueuedTotal != 3 ||
		got.LeasedTotal != 2 || got.AckedTotal != 1 || got.NackedTotal != 0 || got.RateLimit != nil {
		t.Fatalf("stats %+v", got)
	}
	_, err := c.Stats(ctxFor(t), newQueue(t)+".never")
	assertIs(t, err, rivetq.ErrQueueNotFound)
}

func TestListJobsPagesThroughAQueue(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	var want []string
	for i := 0; i < 5; i++ {
		want = append(want, enqueue(t, c, q, i, nil))
	}
	delayed := enqueue(t, c, q, "later", &rivetq.EnqueueOptions{DelayMs: 60000})
	var got []string
	opts := rivetq.ListJobsOptions{State: rivetq.StateReady, Limit: 2}
	for pages := 0; ; pages++ {
		page := must(c.ListJobs(ctxFor(t), q, opts))(t)
		if len(page.Jobs) > 2 || pages > 3 {
			t.Fatalf("page %d has %d jobs", pages, len(page.Jobs))
		}
		for _, job := range page.Jobs {
			got = append(got, job.ID)
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ready jobs %v, want %v", got, want)
	}
	page := must(c.ListJobs(ctxFor(t), q, rivetq.ListJobsOptions{State: rivetq.StateDelayed}))(t)
	if len(page.Jobs) != 1 || page.Jobs[0].ID != delayed || page.Jobs[0].State != rivetq.StateDelayed {
		t.Fatalf("delayed jobs %+v", page.Jobs)
	}
}

func TestRateLimitCapsLeases(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	if limit := must(c.GetRateLimit(ctxFor(t), q))(t); limit != nil {
		t.Fatalf("a new queue has rate limit %+v", limit)
	}
	limit := rivetq.RateLimit{Capacity: 2, RefillRate: 0.001}
	check(t, c.SetRateLimit(ctxFor(t), q, limit))
	if got := must(c.GetRateLimit(ctxFor(t), q))(t); got == nil || *got != limit {
		t.Fatalf("rate limit %+v, want %+v", got, limit)
	}
	for i := 0; i < 4; i++ {
		enqueue(t, c, q, i, nil)
	}
	if jobs := must(c.Lease(ctxFor(t), q, 4, 30000))(t); len(jobs) != 2 {
		t.Fatalf("leased %d jobs with 2 tokens", len(jobs))
	}
	if got := stats(t, c, q).RateLimit; got == nil || *got != limit {
		t.Fatalf("stats rate limit %+v", got)
	}
	check(t, c.DeleteRateLimit(ctxFor(t), q))
	if got := must(c.GetRateLimit(ctxFor(t), q))(t); got != nil {
		t.Fatalf("rate limit %+v after delete", got)
	}
	if jobs := must(c.Lease(ctxFor(t), q, 4, 30000))(t); len(jobs) != 2 {
		t.Fatalf("leased %d of the 2 jobs left without a limit", len(jobs))
	}
}

func TestRetryPolicySetsTheBackoffOfANack(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	assertPolicy := func(want rivetq.RetryPolicy) {
		t.Helper()
		if got := must(c.GetRetryPolicy(ctxFor(t), q))(t); got == nil || *got != want {
			t.Fatalf("retry policy %+v, want %+v", got, want)
		}
	}
	assertPolicy(rivetq.DefaultRetryPolicy())

	hour := rivetq.RetryPolicy{BaseBackoffMs: 3600000, Multiplier: 3, MaxBackoffMs: 3600000, Jitter: rivetq.JitterNone}
	check(t, c.SetRetryPolicy(ctxFor(t), q, hour))
	assertPolicy(hour)
	id := enqueue(t, c, q, 1, nil)
	job := leaseOne(t, c, q, 30000)
	before := time.Now()
	if state := must(c.Nack(ctxFor(t), job.ID, job.LeaseID, nil))(t); state != rivetq.StateDelayed {
		t.Fatalf("nack left the job %s", state)
	}
	// An hour from the nack (the default backoff is about a second), at the server's
	// millisecond resolution.
	if eta := must(c.GetJob(ctxFor(t), id))(t).ETA; !eta.After(before.Add(59 * time.Minute)) {
		t.Fatalf("eta %v, an hour after %v expected", eta, before)
	}

	noWait := rivetq.RetryPolicy{Multiplier: 1, Jitter: rivetq.JitterFull} // zero backoffs are sent
	check(t, c.SetRetryPolicy(ctxFor(t), q, noWait))
	assertPolicy(noWait)
	check(t, c.DeleteRetryPolicy(ctxFor(t), q))
	assertPolicy(rivetq.DefaultRetryPolicy())

	err := c.SetRetryPolicy(ctxFor(t), q, rivetq.RetryPolicy{}) // multiplier 0
	assertIs(t, err, rivetq.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "multiplier") {
		t.Fatalf("error %q does not name multiplier", err)
	}
	assertPolicy(rivetq.DefaultRetryPolicy())
}

func TestPauseStopsLeasesUntilResume(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	check(t, c.Pause(ctxFor(t), q))
	if jobs := must(c.Lease(ctxFor(t), q, 1, 30000))(t); len(jobs) != 0 {
		t.Fatalf("leased %d jobs from a paused queue", len(jobs))
	}
	if !stats(t, c, q).Paused {
		t.Fatal("stats do not say paused")
	}
	check(t, c.Resume(ctxFor(t), q))
	if job := leaseOne(t, c, q, 30000); job.ID != id {
		t.Fatalf("leased %s, want %s", job.ID, id)
	}
}

func TestPurgeQueueDeletesEveryJob(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	for i := 0; i < 3; i++ {
		enqueue(t, c, q, i, nil)
	}
	leaseOne(t, c, q, 30000)
	if purged := must(c.PurgeQueue(ctxFor(t), q))(t); purged != 3 {
		t.Fatalf("purged %d, want 3", purged)
	}
	if s := stats(t, c, q); s.Ready+s.Inflight+s.Delayed+s.DLQ != 0 {
		t.Fatalf("stats after purge %+v", s)
	}
}

func TestDeadLetterQueueListRequeuePurge(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	var dead []string
	for i := 0; i < 3; i++ {
		dead = append(dead, enqueue(t, c, q, i, &rivetq.EnqueueOptions{MaxRetries: rivetq.NoRetries}))
	}
	killAll := func(want int) {
		t.Helper()
		jobs := must(c.Lease(ctxFor(t), q, 10, 30000))(t)
		if len(jobs) != want {
			t.Fatalf("leased %d jobs, want %d", len(jobs), want)
		}
		for _, job := range jobs {
			must(c.Nack(ctxFor(t), job.ID, job.LeaseID, &rivetq.NackOptions{Reason: "boom"}))(t)
		}
	}
	killAll(3)
	page := must(c.ListDLQ(ctxFor(t), q, rivetq.ListDLQOptions{Limit: 10}))(t)
	if len(page.Jobs) != 3 || page.Jobs[0].State != rivetq.StateDead || page.Jobs[0].LastError != "boom" {
		t.Fatalf("DLQ page %+v", page)
	}
	if n := must(c.RequeueDLQ(ctxFor(t), q, nil))(t); n != 0 {
		t.Fatalf("requeuing no ids requeued %d", n)
	}
	if n := must(c.RequeueDLQ(ctxFor(t), q, dead[:1]))(t); n != 1 {
		t.Fatalf("requeued %d, want 1", n)
	}
	if job := must(c.GetJob(ctxFor(t), dead[0]))(t); job.State != rivetq.StateReady || job.Tries != 0 {
		t.Fatalf("requeued job %+v", job)
	}
	if n := must(c.RequeueAllDLQ(ctxFor(t), q))(t); n != 2 {
		t.Fatalf("requeued all: %d, want 2", n)
	}
	killAll(3)
	if n := must(c.PurgeDLQ(ctxFor(t), q))(t); n != 3 {
		t.Fatalf("purged %d, want 3", n)
	}
	assertGone(t, c, dead[2])
}

func TestANameThatWouldReachAnotherRouteIsAnInvalidArgument(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	ctx := ctxFor(t)
	calls := map[string]func() error{
		`Stats("")`:       func() error { _, err := c.Stats(ctx, ""); return err },
		`PurgeQueue("")`:  func() error { _, err := c.PurgeQueue(ctx, ""); return err },
		`PurgeDLQ(".")`:   func() error { _, err := c.PurgeDLQ(ctx, "."); return err },
		`Pause("..")`:     func() error { return c.Pause(ctx, "..") },
		`GetJob("")`:      func() error { _, err := c.GetJob(ctx, ""); return err },
		`CancelJob("..")`: func() error { return c.CancelJob(ctx, "..") },
		`PutSchedule("")`: func() error {
			_, err := c.PutSchedule(ctx, "", rivetq.ScheduleSpec{Queue: q, Payload: 1, IntervalMs: 60000})
			return err
		},
		`RunSchedule(".")`: func() error { _, err := c.RunSchedule(ctx, "."); return err },
	}
	for name, call := range calls {
		err := call()
		assertIs(t, err, rivetq.ErrInvalidArgument)
		var apiErr *rivetq.APIError
		if !errors.As(err, &apiErr) || (apiErr.Field != "queue" && apiErr.Field != "job_id" && apiErr.Field != "name") {
			t.Fatalf("%s: %v names no field", name, err)
		}
	}
	_, err := c.ListJobs(ctx, q, rivetq.ListJobsOptions{Limit: -1})
	assertIs(t, err, rivetq.ErrInvalidArgument)
}

func TestListQueuesCarriesEachQueuesCounts(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	enqueue(t, c, q, 2, &rivetq.EnqueueOptions{DelayMs: 60000})
	for _, summary := range must(c.ListQueues(ctxFor(t)))(t) {
		if summary.Name == q {
			if summary.Ready != 1 || summary.Delayed != 1 || summary.EnqueuedTotal != 2 {
				t.Fatalf("summary %+v", summary)
			}
			return
		}
	}
	t.Fatalf("queue %s not listed", q)
}

func TestDeleteQueueRefusesInflightJobsUnlessForced(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	enqueue(t, c, q, 2, nil)
	leaseOne(t, c, q, 30000)
	_, err := c.DeleteQueue(ctxFor(t), q, false)
	assertIs(t, err, rivetq.ErrStateConflict)
	if deleted := must(c.DeleteQueue(ctxFor(t), q, true))(t); deleted != 2 {
		t.Fatalf("deleted %d jobs, want 2", deleted)
	}
	_, err = c.Stats(ctxFor(t), q)
	assertIs(t, err, rivetq.ErrQueueNotFound)
	_, err = c.DeleteQueue(ctxFor(t), q, false)
	assertIs(t, err, rivetq.ErrQueueNotFound)
}

func TestConcurrencyLimitCapsJobsInFlight(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	for i := 0; i < 3; i++ {
		enqueue(t, c, q, i, nil)
	}
	check(t, c.SetConcurrencyLimit(ctxFor(t), q, 2))
	if limit := must(c.GetConcurrencyLimit(ctxFor(t), q))(t); limit != 2 {
		t.Fatalf("concurrency limit %d, want 2", limit)
	}
	if jobs := must(c.Lease(ctxFor(t), q, 10, 30000))(t); len(jobs) != 2 {
		t.Fatalf("leased %d jobs under a limit of 2", len(jobs))
	}
	check(t, c.DeleteConcurrencyLimit(ctxFor(t), q))
	if limit := must(c.GetConcurrencyLimit(ctxFor(t), q))(t); limit != 0 {
		t.Fatalf("concurrency limit %d after delete", limit)
	}
	assertIs(t, c.SetConcurrencyLimit(ctxFor(t), q, 0), rivetq.ErrInvalidArgument)
}
