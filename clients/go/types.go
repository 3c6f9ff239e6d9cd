package rivetq

import (
	"encoding/json"
	"time"
)

// JobState is the state of a job as the server reports it.
type JobState string

// The states of a job (an acked job is removed, so it has none).
const (
	StateDelayed  JobState = "delayed"
	StateReady    JobState = "ready"
	StateInflight JobState = "inflight"
	StateDead     JobState = "dead"
)

// Job is a job as a lease, GetJob or a listing returns it. Fields a reply does not
// carry are zero: a leased job has no State, a job that is not leased no LeaseID.
type Job struct {
	ID             string          `json:"id"`
	Queue          string          `json:"queue"`
	Payload        json.RawMessage `json:"payload"`
	Priority       int             `json:"priority"`
	State          JobState        `json:"state,omitempty"`
	Tries          int             `json:"tries"` // failed attempts so far
	MaxRetries     int             `json:"max_retries"`
	LeaseID        string          `json:"lease_id,omitempty"`
	LeaseExpiresAt time.Time       `json:"lease_expires_at"`
	ETA            time.Time       `json:"eta"`
	CreatedAt      time.Time       `json:"created_at"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	LastError      string          `json:"last_error,omitempty"`
	// Headers are the producer's string metadata (empty when it sent none).
	Headers map[string]string `json:"headers,omitempty"`
}

// DecodePayload unmarshals the job's JSON payload into v.
func (j *Job) DecodePayload(v interface{}) error {
	return json.Unmarshal(j.Payload, v)
}

// EnqueueResult is the reply to an enqueue; Duplicate is true when the idempotency
// key matched an earlier job, whose id JobID then is.
type EnqueueResult struct {
	JobID     string `json:"job_id"`
	Duplicate bool   `json:"duplicate"`
}

// Ack names one leased job to acknowledge in AckBatch.
type Ack struct {
	JobID   string `json:"job_id"`
	LeaseID string `json:"lease_id"`
}

// AckResult is the outcome of one ack of a batch; Err is nil when it succeeded.
type AckResult struct {
	JobID string
	Err   error
}

// JobPage is one page of a job listing; NextCursor is empty on the last page.
type JobPage struct {
	Jobs       []Job  `json:"jobs"`
	NextCursor string `json:"next_cursor"`
}

// QueueSummary is one queue of ListQueues: its counts now and its lifetime totals.
type QueueSummary struct {
	Name          string `json:"name"`
	Ready         int    `json:"ready"`
	Delayed       int    `json:"delayed"`
	Inflight      int    `json:"inflight"`
	DLQ           int    `json:"dlq"`
	Paused        bool   `json:"paused"`
	EnqueuedTotal int64  `json:"enqueued_total"`
	LeasedTotal   int64  `json:"leased_total"`
	AckedTotal    int64  `json:"acked_total"`
	NackedTotal   int64  `json:"nacked_total"`
}

// QueueStats are the counts and counters of one queue.
type QueueStats struct {
	Queue         string     `json:"queue"`
	Ready         int        `json:"ready"`
	Delayed       int        `json:"delayed"`
	Inflight      int        `json:"inflight"`
	DLQ           int        `json:"dlq"`
	EnqueuedTotal int64      `json:"enqueued_total"`
	LeasedTotal   int64      `json:"leased_total"`
	AckedTotal    int64      `json:"acked_total"`
	NackedTotal   int64      `json:"nacked_total"`
	Paused        bool       `json:"paused"`
	RateLimit     *RateLimit `json:"rate_limit"` // nil when the queue has none
}

// RateLimit is a queue's token bucket: Capacity tokens, refilled at RefillRate per
// second; each leased job takes one token.
type RateLimit struct {
	Capacity   float64 `json:"capacity"`
	RefillRate float64 `json:"refill_rate"`
}

// Jitter is how a retry backoff b is randomized.
type Jitter string

// The jitters of a RetryPolicy.
const (
	JitterEqual Jitter = "equal" // uniform in [b/2, b], the default
	JitterFull  Jitter = "full"  // uniform in [0, b]
	JitterNone  Jitter = "none"  // exactly b
)

// RetryPolicy is a queue's backoff before a failed job is retried:
// b = min(MaxBackoffMs, BaseBackoffMs * Multiplier^(tries-1)), randomized by Jitter.
// Unlike the option structs, every field is sent as it is (zero is a valid backoff),
// so start from DefaultRetryPolicy() or GetRetryPolicy and change what you need.
type RetryPolicy struct {
	BaseBackoffMs int64   `json:"base_backoff_ms"`
	Multiplier    float64 `json:"multiplier"` // 1–100
	MaxBackoffMs  int64   `json:"max_backoff_ms"`
	Jitter        Jitter  `json:"jitter"`
}

// DefaultRetryPolicy returns the policy of a queue that has none set: about 0.5–1 s,
// 1–2 s, 2–4 s, … up to an hour.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{BaseBackoffMs: 1000, Multiplier: 2, MaxBackoffMs: 3600000, Jitter: JitterEqual}
}
