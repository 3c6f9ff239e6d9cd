package rivetq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

// These tests run against a real rivetqd: scripts/test-go.sh starts one with auth on
// and exports RIVETQ_URL and RIVETQ_TEST_TOKEN.

func requireEnv(t *testing.T, name string) string {
	t.Helper()
	value := os.Getenv(name)
	if value == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: run scripts/test-go.sh, which starts rivetqd", name)
		}
		t.Skipf("%s is not set: run scripts/test-go.sh, which starts rivetqd", name)
	}
	return value
}

// newClient returns a client for the test server with the test token.
func newClient(t *testing.T) *rivetq.Client {
	t.Helper()
	url := requireEnv(t, "RIVETQ_URL")
	return rivetq.NewClient(url, rivetq.WithToken(requireEnv(t, "RIVETQ_TEST_TOKEN")))
}

var unsafeQueueChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// newQueue names a queue no other test (or earlier run) uses.
func newQueue(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("go.%s.%d", unsafeQueueChars.ReplaceAllString(t.Name(), "_"), time.Now().UnixNano())
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds, failing the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// must(f())(t) returns f's value, failing the test if f returned an error.
func must[T any](value T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return value
	}
}

func enqueue(t *testing.T, c *rivetq.Client, queue string, payload interface{}, opts *rivetq.EnqueueOptions) string {
	t.Helper()
	return must(c.Enqueue(ctxFor(t), queue, payload, opts))(t)
}

func leaseOne(t *testing.T, c *rivetq.Client, queue string, visibilityMs int) rivetq.Job {
	t.Helper()
	jobs := must(c.Lease(ctxFor(t), queue, 1, visibilityMs))(t)
	if len(jobs) != 1 {
		t.Fatalf("leased %d jobs, want 1", len(jobs))
	}
	return jobs[0]
}

func stats(t *testing.T, c *rivetq.Client, queue string) *rivetq.QueueStats {
	t.Helper()
	return must(c.Stats(ctxFor(t), queue))(t)
}

func assertIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one matching %v", err, target)
	}
}

func assertGone(t *testing.T, c *rivetq.Client, jobID string) {
	t.Helper()
	_, err := c.GetJob(ctxFor(t), jobID)
	assertIs(t, err, rivetq.ErrJobNotFound)
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
