package rivetq_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

func TestServerErrorsMatchSentinelsAndCarryDetails(t *testing.T) {
	c, q := newClient(t), newQueue(t)
	enqueue(t, c, q, 1, nil)
	leased := leaseOne(t, c, q, 30000)
	_, missingErr := c.GetJob(ctxFor(t), "no-such-job")
	_, badQueueErr := c.Enqueue(ctxFor(t), "bad queue!", 1, nil)
	_, badLeaseErr := c.Lease(ctxFor(t), q, 5000, 30000)
	_, tooLargeErr := c.Enqueue(ctxFor(t), q, strings.Repeat("x", 2<<20), nil)

	cases := []struct {
		name   string
		err    error
		target error
		status int
		code   string
		field  string
	}{
		{"unknown job", missingErr, rivetq.ErrJobNotFound, http.StatusNotFound, "job_not_found", ""},
		{"wrong lease", c.Ack(ctxFor(t), leased.ID, "wrong"), rivetq.ErrLeaseLost, http.StatusConflict, "lease_lost", ""},
		{"cancel inflight", c.CancelJob(ctxFor(t), leased.ID), rivetq.ErrStateConflict, http.StatusConflict, "state_conflict", ""},
		{"bad queue name", badQueueErr, rivetq.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument", "queue"},
		{"max_jobs out of range", badLeaseErr, rivetq.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument", "max_jobs"},
		{"payload over 1 MiB", tooLargeErr, rivetq.ErrPayloadTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertIs(t, tc.err, tc.target)
			var apiErr *rivetq.APIError
			if !errors.As(tc.err, &apiErr) || apiErr.Status != tc.status || apiErr.Code != tc.code || apiErr.Message == "" {
				t.Fatalf("error %#v, want status %d code %s and a message", tc.err, tc.status, tc.code)
			}
			if apiErr.Field != tc.field {
				t.Fatalf("error %#v names field %q, want %q", tc.err, apiErr.Field, tc.field)
			}
		})
	}
}

func TestAuthTokenIsRequiredAndChecked(t *testing.T) {
	url := requireEnv(t, "RIVETQ_URL")
	token := requireEnv(t, "RIVETQ_TEST_TOKEN")
	for name, client := range map[string]*rivetq.Client{
		"no token":    rivetq.NewClient(url),
		"wrong token": rivetq.NewClient(url, rivetq.WithToken(token+"x")),
	} {
		_, err := client.ListQueues(ctxFor(t))
		var apiErr *rivetq.APIError
		if !errors.Is(err, rivetq.ErrUnauthenticated) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
			t.Fatalf("%s: got %v, want 401 unauthenticated", name, err)
		}
	}
	authed := rivetq.NewClient(url+"/", rivetq.WithToken(token), rivetq.WithHTTPClient(&http.Client{}))
	if _, err := authed.ListQueues(ctxFor(t)); err != nil {
		t.Fatalf("with the token: %v", err)
	}
}

func TestTransportErrorsAreConnectionErrorsNamingTheServer(t *testing.T) {
	_, err := rivetq.NewClient("http://127.0.0.1:1/").ListQueues(ctxFor(t))
	var apiErr *rivetq.APIError
	var connErr *rivetq.ConnectionError
	if err == nil || errors.As(err, &apiErr) || !errors.As(err, &connErr) || connErr.URL != "http://127.0.0.1:1" {
		t.Fatalf("a refused connection gave %#v", err)
	}
	want := "rivetq: no answer from the RivetQ server at http://127.0.0.1:1 (GET /v1/queues): dial tcp 127.0.0.1:1: "
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("a refused connection says %q, want it to start with %q", err, want)
	}
}

func TestWithTimeoutBoundsARequestButNotALongPollsWait(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, err)
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // never answers
		}
	}()
	_, err = rivetq.NewClient("http://"+silent.Addr().String(), rivetq.WithTimeout(50*time.Millisecond)).ListQueues(ctxFor(t))
	assertIs(t, err, context.DeadlineExceeded)

	c := rivetq.NewClient(requireEnv(t, "RIVETQ_URL"), rivetq.WithToken(requireEnv(t, "RIVETQ_TEST_TOKEN")), rivetq.WithTimeout(50*time.Millisecond))
	jobs, err := c.LeaseWithOptions(ctxFor(t), newQueue(t), rivetq.LeaseOptions{WaitMs: 300})
	if err != nil || len(jobs) != 0 {
		t.Fatalf("a 300 ms long-poll with a 50 ms timeout: %v, %v", jobs, err)
	}
}
