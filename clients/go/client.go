package rivetq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	defaultTimeout = 30 * time.Second
	// maxErrorBody bounds how much of an error reply is read.
	maxErrorBody        = 64 << 10
	maxIdleConnsPerHost = 64
)

// Client talks to one RivetQ server. It is safe for concurrent use.
type Client struct {
	baseURL string
	token   string
	http    *http.Client
	timeout time.Duration
}

// NewClient returns a client for the server at baseURL, e.g. "http://localhost:8080".
func NewClient(baseURL string, opts ...Option) *Client {
	c := &Client{
		baseURL: strings.TrimRight(baseURL, "/"),
		http:    &http.Client{Transport: newTransport()},
		timeout: defaultTimeout,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// newTransport is http.DefaultTransport keeping more idle connections per host, since
// all of a client's requests (a busy Worker's leases, extends and acks) go to one host.
func newTransport() *http.Transport {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return transport
}

// call describes one request: the body is sent as JSON when not nil, and a 2xx reply
// is decoded into out when out is not nil. extra lengthens the timeout (long-polls).
type call struct {
	method string
	path   string
	query  url.Values
	body   interface{}
	out    interface{}
	extra  time.Duration
}

func (c *Client) do(ctx context.Context, r call) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+r.extra)
		defer cancel()
	}
	if err := checkPath(r.path); err != nil {
		return err
	}
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &ConnectionError{URL: c.baseURL, Method: r.method, Path: r.path, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return errorFromBody(resp.StatusCode, body)
	}
	if r.out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(r.out); err != nil {
		return fmt.Errorf("rivetq: %s %s: decoding reply: %w", r.method, r.path, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, r call) (*http.Request, error) {
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		encoded, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("rivetq: encoding request: %w", err)
		}
		body = bytes.NewReader(encoded)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("rivetq: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if r.method != http.MethodGet {
		// State-changing calls must say JSON even without a body (the server's CSRF guard).
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// queuePath builds /v1/queues/{queue}{suffix} with the name escaped.
func queuePath(queue, suffix string) string {
	return "/v1/queues/" + url.PathEscape(queue) + suffix
}

func jobPath(jobID string) string {
	return "/v1/jobs/" + url.PathEscape(jobID)
}

// namedPaths are the paths that name a queue, a job or a schedule in their next segment.
var namedPaths = [...]struct{ prefix, field string }{
	{"/v1/queues/", "queue"}, {"/v1/jobs/", "job_id"}, {"/v1/schedules/", "name"},
}

// checkPath refuses a path whose named segment is empty, "." or "..": sent as is, it
// would name another route (an empty queue in /v1/queues//stats, or "." in
// /v1/queues/./dlq, which proxies and servers may resolve to /v1/queues/dlq).
func checkPath(path string) error {
	for _, named := range namedPaths {
		if !strings.HasPrefix(path, named.prefix) {
			continue
		}
		if name, _, _ := strings.Cut(strings.TrimPrefix(path, named.prefix), "/"); name == "" || name == "." || name == ".." {
			return &APIError{Code: "invalid_argument", Message: named.field + " must not be empty, . or ..", Field: named.field}
		}
	}
	return nil
}
