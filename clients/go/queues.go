package rivetq

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ListQueues returns every queue the server knows with its counts.
func (c *Client) ListQueues(ctx context.Context) ([]QueueSummary, error) {
	var reply struct {
		Summaries []QueueSummary `json:"summaries"` // "queues" has the names alone
	}
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/queues", out: &reply})
	return reply.Summaries, err
}

// Stats returns a queue's counts and counters; a queue that never existed is
// ErrQueueNotFound.
func (c *Client) Stats(ctx context.Context, queue string) (*QueueStats, error) {
	var reply struct {
		QueueStats
		RateLimit *rateLimitView `json:"rate_limit"` // shadows QueueStats.RateLimit
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: queuePath(queue, "/stats"), out: &reply}); err != nil {
		return nil, err
	}
	stats := reply.QueueStats
	stats.RateLimit = reply.RateLimit.limit()
	return &stats, nil
}

// ListJobs returns one page of a queue's jobs, optionally of one state.
func (c *Client) ListJobs(ctx context.Context, queue string, opts ListJobsOptions) (*JobPage, error) {
	query := pageQuery(opts.Limit, opts.Cursor)
	if opts.State != "" {
		query.Set("state", string(opts.State))
	}
	return c.listPage(ctx, queuePath(queue, "/jobs"), query)
}

// ListDLQ returns one page of a queue's dead letter queue.
func (c *Client) ListDLQ(ctx context.Context, queue string, opts ListDLQOptions) (*JobPage, error) {
	return c.listPage(ctx, queuePath(queue, "/dlq"), pageQuery(opts.Limit, opts.Cursor))
}

func (c *Client) listPage(ctx context.Context, path string, query url.Values) (*JobPage, error) {
	var page JobPage
	if err := c.do(ctx, call{method: http.MethodGet, path: path, query: query, out: &page}); err != nil {
		return nil, err
	}
	if page.Jobs == nil {
		page.Jobs = []Job{}
	}
	return &page, nil
}

func pageQuery(limit int, cursor string) url.Values {
	query := url.Values{}
	if limit != 0 { // a negative limit goes to the server, which refuses it naming the field
		query.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		query.Set("cursor", cursor)
	}
	return query
}

// RequeueDLQ makes the named dead jobs ready again with tries reset to 0 and returns
// how many it requeued. An empty list requeues nothing (see RequeueAllDLQ).
func (c *Client) RequeueDLQ(ctx context.Context, queue string, jobIDs []string) (int, error) {
	if len(jobIDs) == 0 {
		return 0, nil
	}
	return c.requeue(ctx, queue, map[string][]string{"job_ids": jobIDs})
}

// RequeueAllDLQ makes every dead job of queue ready again and returns how many.
func (c *Client) RequeueAllDLQ(ctx context.Context, queue string) (int, error) {
	return c.requeue(ctx, queue, struct{}{})
}

func (c *Client) requeue(ctx context.Context, queue string, body interface{}) (int, error) {
	var reply struct {
		Requeued int `json:"requeued"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/dlq/requeue"), body: body, out: &reply})
	return reply.Requeued, err
}

// PurgeDLQ deletes every dead job of queue and returns how many.
func (c *Client) PurgeDLQ(ctx context.Context, queue string) (int, error) {
	return c.purge(ctx, queuePath(queue, "/dlq"))
}

// PurgeQueue deletes every job of queue (ready, delayed, inflight and dead) and
// returns how many.
func (c *Client) PurgeQueue(ctx context.Context, queue string) (int, error) {
	return c.purge(ctx, queuePath(queue, ""))
}

// DeleteQueue removes queue entirely: its jobs (dead ones too), settings, counters and
// metrics series; it returns how many jobs went. While jobs are inflight it is
// ErrStateConflict, unless force; a queue that does not exist is ErrQueueNotFound.
func (c *Client) DeleteQueue(ctx context.Context, queue string, force bool) (int, error) {
	var reply struct {
		DeletedJobs int `json:"deleted_jobs"`
	}
	body := map[string]bool{"force": force}
	err := c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/delete"), body: body, out: &reply})
	return reply.DeletedJobs, err
}

func (c *Client) purge(ctx context.Context, path string) (int, error) {
	var reply struct {
		Purged int `json:"purged"`
	}
	err := c.do(ctx, call{method: http.MethodDelete, path: path, out: &reply})
	return reply.Purged, err
}

// Pause stops leases from handing out the queue's jobs until Resume.
func (c *Client) Pause(ctx context.Context, queue string) error {
	return c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/pause")})
}

// Resume undoes Pause.
func (c *Client) Resume(ctx context.Context, queue string) error {
	return c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/resume")})
}

// SetRateLimit limits how fast the queue's jobs are leased (not enqueued) with a token
// bucket that starts full.
func (c *Client) SetRateLimit(ctx context.Context, queue string, limit RateLimit) error {
	return c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/rate_limit"), body: limit})
}

// GetRateLimit returns the queue's rate limit, or nil when it has none.
func (c *Client) GetRateLimit(ctx context.Context, queue string) (*RateLimit, error) {
	var reply rateLimitView
	if err := c.do(ctx, call{method: http.MethodGet, path: queuePath(queue, "/rate_limit"), out: &reply}); err != nil {
		return nil, err
	}
	return reply.limit(), nil
}

// rateLimitView is a rate limit as the server shows it: "exists": false (capacity and
// refill_rate 0) when the queue has none.
type rateLimitView struct {
	RateLimit
	Exists bool `json:"exists"`
}

// limit is the rate limit, or nil when there is none.
func (v *rateLimitView) limit() *RateLimit {
	if v == nil || !v.Exists {
		return nil
	}
	limit := v.RateLimit
	return &limit
}

// DeleteRateLimit removes the queue's rate limit.
func (c *Client) DeleteRateLimit(ctx context.Context, queue string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: queuePath(queue, "/rate_limit")})
}

// SetConcurrencyLimit lets at most maxInflight jobs of the queue be leased at once,
// across workers and nodes: a lease beyond it returns fewer jobs (a long-poll waits for
// a slot). maxInflight is 1–1000000.
func (c *Client) SetConcurrencyLimit(ctx context.Context, queue string, maxInflight int) error {
	body := map[string]int{"max_inflight": maxInflight}
	return c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/concurrency_limit"), body: body})
}

// GetConcurrencyLimit returns the queue's concurrency limit, or 0 when it has none.
func (c *Client) GetConcurrencyLimit(ctx context.Context, queue string) (int, error) {
	var reply struct {
		MaxInflight int  `json:"max_inflight"`
		Exists      bool `json:"exists"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: queuePath(queue, "/concurrency_limit"), out: &reply})
	return reply.MaxInflight, err
}

// DeleteConcurrencyLimit removes the queue's concurrency limit.
func (c *Client) DeleteConcurrencyLimit(ctx context.Context, queue string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: queuePath(queue, "/concurrency_limit")})
}

// SetRetryPolicy sets the backoff of the queue's failed jobs. Every field of policy is
// sent, zeros included (see RetryPolicy).
func (c *Client) SetRetryPolicy(ctx context.Context, queue string, policy RetryPolicy) error {
	return c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/retry_policy"), body: policy})
}

// GetRetryPolicy returns the queue's retry policy: DefaultRetryPolicy() until one is set.
func (c *Client) GetRetryPolicy(ctx context.Context, queue string) (*RetryPolicy, error) {
	var policy RetryPolicy
	if err := c.do(ctx, call{method: http.MethodGet, path: queuePath(queue, "/retry_policy"), out: &policy}); err != nil {
		return nil, err
	}
	return &policy, nil
}

// DeleteRetryPolicy restores the queue's default retry policy.
func (c *Client) DeleteRetryPolicy(ctx context.Context, queue string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: queuePath(queue, "/retry_policy")})
}
