package rivetq

import (
	"context"
	"net/http"
	"time"
)

// Lease takes up to maxJobs ready jobs of queue for visibilityMs milliseconds. It
// returns an empty slice, not an error, when no job is ready.
func (c *Client) Lease(ctx context.Context, queue string, maxJobs int, visibilityMs int) ([]Job, error) {
	return c.LeaseWithOptions(ctx, queue, LeaseOptions{MaxJobs: maxJobs, VisibilityMs: visibilityMs})
}

// LeaseWithOptions is Lease with long-polling: with WaitMs > 0 the call returns as soon
// as a job is ready, or with no job once WaitMs has passed.
func (c *Client) LeaseWithOptions(ctx context.Context, queue string, opts LeaseOptions) ([]Job, error) {
	_, jobs, err := c.lease(ctx, queue, opts, nil)
	return jobs, err
}

// AckAndLease acks finished jobs and leases the next ones in one call: a worker's
// "done with these, give me more" in one round trip (and, on the embedded engine,
// usually one fsync). Each ack succeeds or fails on its own, as in AckBatch; the
// error is for the call as a whole, and a call refused for a bad argument changes
// nothing.
func (c *Client) AckAndLease(ctx context.Context, acks []Ack, queue string, opts LeaseOptions) ([]AckResult, []Job, error) {
	if acks == nil {
		acks = []Ack{}
	}
	return c.lease(ctx, queue, opts, acks)
}

func (c *Client) lease(ctx context.Context, queue string, opts LeaseOptions, acks []Ack) ([]AckResult, []Job, error) {
	body := struct {
		MaxJobs      int   `json:"max_jobs,omitempty"`
		VisibilityMs int   `json:"visibility_ms,omitempty"`
		WaitMs       int   `json:"wait_ms,omitempty"`
		Acks         []Ack `json:"acks,omitempty"`
	}{opts.MaxJobs, opts.VisibilityMs, opts.WaitMs, acks}
	var reply struct {
		Jobs []Job       `json:"jobs"`
		Acks []ackResult `json:"acks"`
	}
	err := c.do(ctx, call{
		method: http.MethodPost,
		path:   queuePath(queue, "/lease"),
		body:   body,
		out:    &reply,
		extra:  time.Duration(opts.WaitMs) * time.Millisecond,
	})
	if err != nil {
		return nil, nil, err
	}
	if reply.Jobs == nil {
		reply.Jobs = []Job{}
	}
	return ackResults(reply.Acks), reply.Jobs, nil
}

// Ack marks a leased job done; the server removes it. A wrong or expired lease is
// ErrLeaseLost.
func (c *Client) Ack(ctx context.Context, jobID, leaseID string) error {
	return c.do(ctx, call{method: http.MethodPost, path: "/v1/ack", body: Ack{JobID: jobID, LeaseID: leaseID}})
}

// AckBatch acks up to 1000 jobs; each ack succeeds or fails on its own, and the
// results say which (in order). The error is for the call as a whole.
func (c *Client) AckBatch(ctx context.Context, acks []Ack) ([]AckResult, error) {
	var reply struct {
		Results []ackResult `json:"results"`
	}
	body := map[string][]Ack{"acks": acks}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/ack_batch", body: body, out: &reply}); err != nil {
		return nil, err
	}
	return ackResults(reply.Results), nil
}

type ackResult struct {
	JobID     string `json:"job_id"`
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	ErrorCode string `json:"error_code"`
}

func ackResults(raw []ackResult) []AckResult {
	results := make([]AckResult, len(raw))
	for i, r := range raw {
		results[i].JobID = r.JobID
		if !r.OK {
			results[i].Err = &APIError{Code: r.ErrorCode, Message: r.Error}
		}
	}
	return results
}

// Nack reports a failed attempt. It returns the job's new state: StateDelayed or
// StateReady (it will be retried) or StateDead (it went to the dead letter queue).
// opts may be nil.
func (c *Client) Nack(ctx context.Context, jobID, leaseID string, opts *NackOptions) (JobState, error) {
	if opts == nil {
		opts = &NackOptions{}
	}
	delay, err := optionalInt("DelayMs", opts.DelayMs, NoDelay)
	if err != nil {
		return "", err
	}
	body := struct {
		Ack
		Reason  string `json:"reason,omitempty"`
		DelayMs *int   `json:"delay_ms,omitempty"`
	}{Ack{jobID, leaseID}, opts.Reason, delay}
	var reply struct {
		State JobState `json:"state"`
	}
	err = c.do(ctx, call{method: http.MethodPost, path: "/v1/nack", body: body, out: &reply})
	return reply.State, err
}

// Extend keeps a leased job for visibilityMs more milliseconds from now and returns
// the new expiry.
func (c *Client) Extend(ctx context.Context, jobID, leaseID string, visibilityMs int) (time.Time, error) {
	body := struct {
		Ack
		VisibilityMs int `json:"visibility_ms"`
	}{Ack{jobID, leaseID}, visibilityMs}
	var reply struct {
		LeaseExpiresAt time.Time `json:"lease_expires_at"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/extend", body: body, out: &reply})
	return reply.LeaseExpiresAt, err
}

// GetJob returns a job with its state; an unknown (or acked) job is ErrJobNotFound.
func (c *Client) GetJob(ctx context.Context, jobID string) (*Job, error) {
	var job Job
	if err := c.do(ctx, call{method: http.MethodGet, path: jobPath(jobID), out: &job}); err != nil {
		return nil, err
	}
	return &job, nil
}

// CancelJob deletes a job that is not leased; a leased job is ErrStateConflict.
func (c *Client) CancelJob(ctx context.Context, jobID string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: jobPath(jobID)})
}
