package rivetq

import (
	"net/http"
	"time"
)

// Option configures a Client.
type Option func(*Client)

// WithToken sends "Authorization: Bearer <token>" with every request.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithHTTPClient replaces the http.Client used for requests (transport, TLS, proxies).
func WithHTTPClient(httpClient *http.Client) Option {
	return func(c *Client) { c.http = httpClient }
}

// WithTimeout bounds each request (default 30 s). A long-polling lease gets its wait
// on top of this timeout. Zero or negative means no timeout beyond the context's.
func WithTimeout(timeout time.Duration) Option {
	return func(c *Client) { c.timeout = timeout }
}

// Sentinel values for option fields whose zero value means "server default". They
// follow net.Dialer.KeepAlive's convention: zero is the default, negative is "none".
const (
	// PriorityLowest asks for priority 0 (a zero Priority means the server default, 5).
	PriorityLowest = -1
	// NoRetries asks for max_retries 0, so the job runs at most once (a zero
	// MaxRetries means the server default, 3).
	NoRetries = -1
	// NoDelay makes a nacked job ready again at once (a zero NackOptions.DelayMs means
	// the queue's retry backoff).
	NoDelay = -1
)

// EnqueueOptions are the optional fields of an enqueue. Zero values mean the server's
// defaults, so a nil *EnqueueOptions and &EnqueueOptions{} are the same.
type EnqueueOptions struct {
	// Priority is 1–9, 9 served first; 0 means the server default (5). Use
	// PriorityLowest for priority 0.
	Priority int
	// DelayMs makes the job ready this many milliseconds from now.
	DelayMs int
	// RunAt makes the job ready at this instant (exclusive with DelayMs).
	RunAt time.Time
	// MaxRetries is how many failed attempts are retried before the job goes to the
	// dead letter queue; 0 means the server default (3). Use NoRetries for none.
	MaxRetries int
	// IdempotencyKey deduplicates enqueues on the same queue within the server's window.
	IdempotencyKey string
	// Headers are string metadata carried with the job to its workers, e.g. a W3C
	// "traceparent" (at most 64; the server refuses more, or over-long ones).
	Headers map[string]string
}

// EnqueueItem is one job of an EnqueueBatch.
type EnqueueItem struct {
	Payload interface{}
	EnqueueOptions
}

// LeaseOptions are the fields of a lease; zero values mean the server's defaults
// (1 job, 30 s visibility, no waiting).
type LeaseOptions struct {
	MaxJobs      int // 1–1000
	VisibilityMs int // how long the jobs stay leased
	WaitMs       int // long-poll up to this long (0–20000) when no job is ready
}

// NackOptions are the optional fields of a nack.
type NackOptions struct {
	Reason string // recorded as the job's last_error
	// DelayMs overrides the queue's retry backoff; 0 keeps the backoff. Use NoDelay to
	// make the job ready again at once.
	DelayMs int
}

// ListJobsOptions page through a queue's jobs.
type ListJobsOptions struct {
	State  JobState // empty lists every state
	Limit  int      // 0 means the server default
	Cursor string   // NextCursor of the previous page
}

// ListDLQOptions page through a queue's dead letter queue.
type ListDLQOptions struct {
	Limit  int
	Cursor string
}
