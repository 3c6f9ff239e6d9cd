package rivetq_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

func TestEnqueueLeaseAckAsTheSeedExample(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	payload := map[string]interface{}{"to": "user@example.com", "subject": "Hello from RivetQ"}
	id := enqueue(t, c, q, payload, &rivetq.EnqueueOptions{Priority: 7, MaxRetries: 3})

	job := leaseOne(t, c, q, 30000)
	if job.ID != id || job.Queue != q || job.Priority != 7 || job.MaxRetries != 3 || job.Tries != 0 {
		t.Fatalf("leased %+v", job)
	}
	if job.LeaseID == "" || !job.LeaseExpiresAt.After(job.CreatedAt) {
		t.Fatalf("lease fields: id %q expires %v created %v", job.LeaseID, job.LeaseExpiresAt, job.CreatedAt)
	}
	var got map[string]interface{}
	if err := job.DecodePayload(&got); err != nil || !reflect.DeepEqual(got, payload) {
		t.Fatalf("payload %v (%v), want %v", got, err, payload)
	}
	if err := c.Ack(ctxFor(t), job.ID, job.LeaseID); err != nil {
		t.Fatal(err)
	}
	assertGone(t, c, id)
}

func TestEnqueueDefaultsAndExplicitZeros(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	defaults := must(c.GetJob(ctxFor(t), enqueue(t, c, q, 1, nil)))(t)
	if defaults.Priority != 5 || defaults.MaxRetries != 3 || defaults.State != rivetq.StateReady {
		t.Fatalf("nil options: %+v", defaults)
	}
	zeros := must(c.GetJob(ctxFor(t), enqueue(t, c, q, 2, &rivetq.EnqueueOptions{
		Priority: rivetq.PriorityLowest, MaxRetries: rivetq.NoRetries,
	})))(t)
	if zeros.Priority != 0 || zeros.MaxRetries != 0 {
		t.Fatalf("explicit zeros: %+v", zeros)
	}
	_, err := c.Enqueue(ctxFor(t), q, 3, &rivetq.EnqueueOptions{Priority: -2})
	assertIs(t, err, rivetq.ErrInvalidArgument)
}

func TestLeaseServesHighestPriorityFirst(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	low := enqueue(t, c, q, "low", &rivetq.EnqueueOptions{Priority: rivetq.PriorityLowest})
	mid := enqueue(t, c, q, "mid", nil)
	high := enqueue(t, c, q, "high", &rivetq.EnqueueOptions{Priority: 9})
	jobs := must(c.Lease(ctxFor(t), q, 3, 30000))(t)
	var order []string
	for _, job := range jobs {
		order = append(order, job.ID)
	}
	if want := []string{high, mid, low}; !reflect.DeepEqual(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

func TestEnqueueDelayedJobsWaitForTheirETA(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	runAt := time.Now().Add(time.Hour)
	delayed := enqueue(t, c, q, 1, &rivetq.EnqueueOptions{DelayMs: 60000})
	scheduled := enqueue(t, c, q, 2, &rivetq.EnqueueOptions{RunAt: runAt})
	for _, id := range []string{delayed, scheduled} {
		job := must(c.GetJob(ctxFor(t), id))(t)
		if job.State != rivetq.StateDelayed || !job.ETA.After(time.Now().Add(30*time.Second)) {
			t.Fatalf("job %s: state %s eta %v", id, job.State, job.ETA)
		}
	}
	if eta := must(c.GetJob(ctxFor(t), scheduled))(t).ETA; eta.Sub(runAt).Abs() > time.Millisecond {
		t.Fatalf("run_at %v came back as eta %v", runAt, eta)
	}
	if jobs := must(c.Lease(ctxFor(t), q, 10, 30000))(t); len(jobs) != 0 {
		t.Fatalf("leased delayed jobs: %+v", jobs)
	}
}

func TestEnqueueWithIdempotencyKeyCreatesOneJob(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	opts := &rivetq.EnqueueOptions{IdempotencyKey: "order-42"}
	first := must(c.EnqueueWithResult(ctxFor(t), q, "a", opts))(t)
	second := must(c.EnqueueWithResult(ctxFor(t), q, "b", opts))(t)
	if first.Duplicate || !second.Duplicate || second.JobID != first.JobID {
		t.Fatalf("first %+v second %+v", first, second)
	}
	if job := must(c.GetJob(ctxFor(t), first.JobID))(t); job.IdempotencyKey != "order-42" {
		t.Fatalf("idempotency key %q", job.IdempotencyKey)
	}
	if ready := stats(t, c, q).Ready; ready != 1 {
		t.Fatalf("ready %d, want 1", ready)
	}
}

func TestEnqueueBatchIsAllOrNothing(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	ids := must(c.EnqueueBatch(ctxFor(t), q, []rivetq.EnqueueItem{
		{Payload: json.RawMessage(`{"n":1}`)},
		{Payload: 2, EnqueueOptions: rivetq.EnqueueOptions{Priority: 9}},
	}))(t)
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("ids %v", ids)
	}
	if job := must(c.GetJob(ctxFor(t), ids[0]))(t); string(job.Payload) != `{"n":1}` {
		t.Fatalf("raw payload came back as %s", job.Payload)
	}
	_, err := c.EnqueueBatch(ctxFor(t), q, []rivetq.EnqueueItem{
		{Payload: 3},
		{Payload: 4, EnqueueOptions: rivetq.EnqueueOptions{Priority: 10}},
	})
	assertIs(t, err, rivetq.ErrInvalidArgument)
	if ready := stats(t, c, q).Ready; ready != 2 {
		t.Fatalf("ready %d after a failed batch, want 2", ready)
	}
}

func TestLeaseLongPollReturnsAJobThatBecomesReadyWhileWaiting(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, "soon", &rivetq.EnqueueOptions{DelayMs: 300})
	jobs := must(c.LeaseWithOptions(ctxFor(t), q, rivetq.LeaseOptions{MaxJobs: 1, VisibilityMs: 30000, WaitMs: 15000}))(t)
	if len(jobs) != 1 || jobs[0].ID != id {
		t.Fatalf("long-poll got %+v", jobs)
	}
	empty := must(c.LeaseWithOptions(ctxFor(t), q, rivetq.LeaseOptions{WaitMs: 50}))(t)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("an empty lease returned %#v, want an empty slice", empty)
	}
}

func TestNackRetriesOrDeadLetters(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	id := enqueue(t, c, q, 1, nil)
	job := leaseOne(t, c, q, 30000)
	state := must(c.Nack(ctxFor(t), job.ID, job.LeaseID, &rivetq.NackOptions{Reason: "flaky", DelayMs: rivetq.NoDelay}))(t)
	if state != rivetq.StateReady {
		t.Fatalf("state after nack with NoDelay: %s", state)
	}
	got := must(c.GetJob(ctxFor(t), id))(t)
	if got.Tries != 1 || got.LastError != "flaky" {
		t.Fatalf("after nack: %+v", got)
	}

	job = leaseOne(t, c, q, 30000)
	if job.Tries != 1 {
		t.Fatalf("tries %d on the second lease", job.Tries)
	}
	if state := must(c.Nack(ctxFor(t), job.ID, job.LeaseID, &rivetq.NackOptions{DelayMs: 60000}))(t); state != rivetq.StateDelayed {
		t.Fatalf("state after nack with a delay: %s", state)
	}

	once := enqueue(t, c, q, 2, &rivetq.EnqueueOptions{MaxRetries: rivetq.NoRetries, Priority: 9})
	job = leaseOne(t, c, q, 30000)
	if job.ID != once {
		t.Fatalf("leased %s, want %s", job.ID, once)
	}
	if state := must(c.Nack(ctxFor(t), job.ID, job.LeaseID, nil))(t); state != rivetq.StateDead {
		t.Fatalf("state after the last attempt: %s", state)
	}
}

func TestExtendMovesTheLeaseExpiry(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	job := leaseOne(t, c, q, 1000)
	expires := must(c.Extend(ctxFor(t), job.ID, job.LeaseID, 60000))(t)
	if !expires.After(job.LeaseExpiresAt) {
		t.Fatalf("extended expiry %v is not after %v", expires, job.LeaseExpiresAt)
	}
	if got := must(c.GetJob(ctxFor(t), job.ID))(t); !got.LeaseExpiresAt.Equal(expires) || got.State != rivetq.StateInflight {
		t.Fatalf("job after extend: %+v", got)
	}
	_, err := c.Extend(ctxFor(t), job.ID, "not-the-lease", 60000)
	assertIs(t, err, rivetq.ErrLeaseLost)
}

func TestAckBatchReportsEachAck(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	enqueue(t, c, q, 2, nil)
	jobs := must(c.Lease(ctxFor(t), q, 2, 30000))(t)
	results := must(c.AckBatch(ctxFor(t), []rivetq.Ack{
		{JobID: jobs[0].ID, LeaseID: jobs[0].LeaseID},
		{JobID: jobs[1].ID, LeaseID: "wrong"},
	}))(t)
	if len(results) != 2 || results[0].JobID != jobs[0].ID || results[0].Err != nil {
		t.Fatalf("results %+v", results)
	}
	assertIs(t, results[1].Err, rivetq.ErrLeaseLost)
	assertGone(t, c, jobs[0].ID)
	if got := must(c.GetJob(ctxFor(t), jobs[1].ID))(t); got.State != rivetq.StateInflight {
		t.Fatalf("wrongly acked job is %s", got.State)
	}
}

func TestAckAndLeaseAcksThenLeasesTheNextJobs(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	first := enqueue(t, c, q, 1, nil)
	second := enqueue(t, c, q, 2, nil)
	done := leaseOne(t, c, q, 30000)
	results, jobs, err := c.AckAndLease(ctxFor(t), []rivetq.Ack{
		{JobID: done.ID, LeaseID: done.LeaseID},
		{JobID: second, LeaseID: "wrong"},
	}, q, rivetq.LeaseOptions{MaxJobs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].JobID != first || results[0].Err != nil {
		t.Fatalf("results %+v", results)
	}
	assertIs(t, results[1].Err, rivetq.ErrLeaseLost)
	if len(jobs) != 1 || jobs[0].ID != second || jobs[0].LeaseID == "" {
		t.Fatalf("jobs %+v", jobs)
	}
	assertGone(t, c, first)
	results, jobs, err = c.AckAndLease(ctxFor(t), nil, q, rivetq.LeaseOptions{})
	if err != nil || len(results) != 0 || len(jobs) != 0 {
		t.Fatalf("empty call: %+v %+v %v", results, jobs, err)
	}
	_, _, err = c.AckAndLease(ctxFor(t), []rivetq.Ack{{JobID: second, LeaseID: ""}}, q, rivetq.LeaseOptions{})
	assertIs(t, err, rivetq.ErrInvalidArgument)
}

func TestCancelJobDeletesOnlyJobsNotLeased(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	waiting := enqueue(t, c, q, 1, &rivetq.EnqueueOptions{DelayMs: 60000})
	if err := c.CancelJob(ctxFor(t), waiting); err != nil {
		t.Fatal(err)
	}
	assertGone(t, c, waiting)
	assertIs(t, c.CancelJob(ctxFor(t), waiting), rivetq.ErrJobNotFound)

	enqueue(t, c, q, 2, nil)
	leased := leaseOne(t, c, q, 30000)
	assertIs(t, c.CancelJob(ctxFor(t), leased.ID), rivetq.ErrStateConflict)
}

func TestEnqueueHeadersComeBackOnLeaseAndLookup(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	trace := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	id := enqueue(t, c, q, 1, &rivetq.EnqueueOptions{Headers: trace})
	if found := must(c.GetJob(ctxFor(t), id))(t); !reflect.DeepEqual(found.Headers, trace) {
		t.Fatalf("GetJob headers %v, want %v", found.Headers, trace)
	}
	if leased := leaseOne(t, c, q, 30000); !reflect.DeepEqual(leased.Headers, trace) {
		t.Fatalf("leased headers %v, want %v", leased.Headers, trace)
	}
	_, err := c.Enqueue(ctxFor(t), q, 2, &rivetq.EnqueueOptions{Headers: map[string]string{"": "x"}})
	assertIs(t, err, rivetq.ErrInvalidArgument)
}
