// Every call of the seed's Go client against the rivetqd at $RIVETQ_URL.
package seedclients_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

var trace = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}

func setUp(t *testing.T) (*rivetq.Client, string, context.Context) {
	url := os.Getenv("RIVETQ_URL")
	if url == "" {
		t.Fatal("RIVETQ_URL is not set: run this through tests/e2e/test_seed_clients.py")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return rivetq.NewClient(url), fmt.Sprintf("seed-go-%d", time.Now().UnixNano()), ctx
}

func TestEnqueueWithHeadersLeaseAckAndStats(t *testing.T) {
	c, q, ctx := setUp(t)
	opts := &rivetq.EnqueueOptions{Priority: 7, MaxRetries: 3, IdempotencyKey: "order-1", Headers: trace}
	id, err := c.Enqueue(ctx, q, map[string]int{"n": 1}, opts)
	if err != nil || id == "" {
		t.Fatalf("enqueue: %q %v", id, err)
	}
	again, err := c.Enqueue(ctx, q, map[string]int{"n": 2}, opts)
	if err != nil || again != id {
		t.Fatalf("duplicate enqueue: %q %v, want %q", again, err, id)
	}
	jobs, err := c.Lease(ctx, q, 5, 30000)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("lease: %v %v", jobs, err)
	}
	job := jobs[0]
	var payload map[string]int
	if err := json.Unmarshal(job.Payload, &payload); err != nil || payload["n"] != 1 {
		t.Fatalf("payload %s: %v", job.Payload, err)
	}
	if job.ID != id || job.Queue != q || job.Priority != 7 || job.Tries != 0 || job.LeaseID == "" || !reflect.DeepEqual(job.Headers, trace) {
		t.Fatalf("leased %+v", job)
	}
	ready, inflight, dlq, err := c.Stats(ctx, q)
	if err != nil || ready != 0 || inflight != 1 || dlq != 0 {
		t.Fatalf("stats while leased: %d %d %d %v", ready, inflight, dlq, err)
	}
	if err := c.Ack(ctx, job.ID, job.LeaseID); err != nil {
		t.Fatal(err)
	}
	if _, inflight, _, err = c.Stats(ctx, q); err != nil || inflight != 0 {
		t.Fatalf("stats after ack: inflight %d %v", inflight, err)
	}
}

func TestNilOptionsTakeTheSeedDefaults(t *testing.T) {
	c, q, ctx := setUp(t)
	if _, err := c.Enqueue(ctx, q, "plain", nil); err != nil {
		t.Fatal(err)
	}
	jobs, err := c.Lease(ctx, q, 0, 0) // the client's own defaults: 1 job, 30 s
	if err != nil || len(jobs) != 1 || jobs[0].Priority != 5 || len(jobs[0].Headers) != 0 {
		t.Fatalf("lease: %+v %v", jobs, err)
	}
}

func TestNackOfTheLastAttemptDeadLetters(t *testing.T) {
	c, q, ctx := setUp(t)
	if _, err := c.Enqueue(ctx, q, 1, &rivetq.EnqueueOptions{Priority: 5, MaxRetries: 0}); err != nil {
		t.Fatal(err)
	}
	jobs, err := c.Lease(ctx, q, 1, 30000)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("lease: %v %v", jobs, err)
	}
	if err := c.Nack(ctx, jobs[0].ID, jobs[0].LeaseID, "smtp timeout"); err != nil {
		t.Fatal(err)
	}
	if ready, inflight, dlq, err := c.Stats(ctx, q); err != nil || ready+inflight != 0 || dlq != 1 {
		t.Fatalf("stats: %d %d %d %v", ready, inflight, dlq, err)
	}
}

func TestListQueuesNamesEveryQueue(t *testing.T) {
	c, q, ctx := setUp(t)
	if _, err := c.Enqueue(ctx, q, 1, nil); err != nil {
		t.Fatal(err)
	}
	names, err := c.ListQueues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if name == q {
			return
		}
	}
	t.Fatalf("%s not in %v", q, names)
}

func TestServerErrorsComeBackAsErrors(t *testing.T) {
	c, q, ctx := setUp(t)
	_, err := c.Enqueue(ctx, q, 1, &rivetq.EnqueueOptions{Priority: 10})
	if err == nil || !strings.Contains(err.Error(), "server error (400)") || !strings.Contains(err.Error(), "priority") {
		t.Fatalf("priority 10: %v", err)
	}
	if err := c.Ack(ctx, "no-such-job", "no-such-lease"); err == nil || !strings.Contains(err.Error(), "(404)") {
		t.Fatalf("ack of an unknown job: %v", err)
	}
}
