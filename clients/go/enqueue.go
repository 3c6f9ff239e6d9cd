package rivetq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// rfc3339Millis is RFC 3339 at the server's resolution, milliseconds.
const rfc3339Millis = "2006-01-02T15:04:05.000Z07:00"

// enqueueBody is the wire shape of one job to enqueue; nil fields take server defaults.
type enqueueBody struct {
	Payload        json.RawMessage   `json:"payload"`
	Priority       *int              `json:"priority,omitempty"`
	DelayMs        *int              `json:"delay_ms,omitempty"`
	RunAt          string            `json:"run_at,omitempty"`
	MaxRetries     *int              `json:"max_retries,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
}

// Enqueue adds a job to queue and returns its id. The payload is encoded with
// encoding/json (pass a json.RawMessage to send JSON as is); opts may be nil.
func (c *Client) Enqueue(ctx context.Context, queue string, payload interface{}, opts *EnqueueOptions) (string, error) {
	result, err := c.EnqueueWithResult(ctx, queue, payload, opts)
	return result.JobID, err
}

// EnqueueWithResult is Enqueue that also tells whether the idempotency key matched
// an existing job.
func (c *Client) EnqueueWithResult(ctx context.Context, queue string, payload interface{}, opts *EnqueueOptions) (EnqueueResult, error) {
	if opts == nil {
		opts = &EnqueueOptions{}
	}
	var result EnqueueResult
	body, err := newEnqueueBody(payload, *opts)
	if err != nil {
		return result, err
	}
	err = c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/enqueue"), body: body, out: &result})
	return result, err
}

// EnqueueBatch adds up to 1000 jobs to queue at once: all of them or, on error, none.
// It returns their ids in order.
func (c *Client) EnqueueBatch(ctx context.Context, queue string, items []EnqueueItem) ([]string, error) {
	bodies := make([]enqueueBody, 0, len(items))
	for i, item := range items {
		body, err := newEnqueueBody(item.Payload, item.EnqueueOptions)
		if err != nil {
			return nil, fmt.Errorf("job %d: %w", i, err)
		}
		bodies = append(bodies, body)
	}
	var reply struct {
		JobIDs []string `json:"job_ids"`
	}
	request := map[string]interface{}{"jobs": bodies}
	err := c.do(ctx, call{method: http.MethodPost, path: queuePath(queue, "/enqueue_batch"), body: request, out: &reply})
	return reply.JobIDs, err
}

func newEnqueueBody(payload interface{}, opts EnqueueOptions) (enqueueBody, error) {
	encoded, err := json.Marshal(payload)
	if err != nil {
		return enqueueBody{}, fmt.Errorf("rivetq: encoding payload: %w", err)
	}
	body := enqueueBody{Payload: encoded, IdempotencyKey: opts.IdempotencyKey, Headers: opts.Headers}
	if body.Priority, err = optionalInt("Priority", opts.Priority, PriorityLowest); err != nil {
		return body, err
	}
	if body.MaxRetries, err = optionalInt("MaxRetries", opts.MaxRetries, NoRetries); err != nil {
		return body, err
	}
	if body.DelayMs, err = optionalInt("DelayMs", opts.DelayMs, 0); err != nil {
		return body, err
	}
	if !opts.RunAt.IsZero() {
		body.RunAt = opts.RunAt.UTC().Format(rfc3339Millis)
	}
	return body, nil
}

// optionalInt maps an option to its wire value: zero is "omit" (server default), the
// field's sentinel (if any, negative) is an explicit zero, other negatives are errors.
func optionalInt(field string, value, zeroSentinel int) (*int, error) {
	switch {
	case value > 0:
		return &value, nil
	case value == 0:
		return nil, nil
	case zeroSentinel != 0 && value == zeroSentinel:
		zero := 0
		return &zero, nil
	}
	return nil, fmt.Errorf("%w: %s must not be negative (got %d)", ErrInvalidArgument, field, value)
}
