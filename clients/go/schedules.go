package rivetq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// CatchUp says what a schedule does with ticks missed while no server ran.
type CatchUp string

// The catch-up policies.
const (
	CatchUpSkip CatchUp = "skip" // one run, for the latest missed tick (the default)
	CatchUpAll  CatchUp = "all"  // a run for each missed tick, up to 100
)

// ScheduleSpec defines a schedule: a job enqueued on Queue at each tick of Cron (5 fields
// or @hourly-style names, in Timezone, default UTC) or every IntervalMs (exactly one of
// the two). Zero Priority and MaxRetries mean the server's defaults, as in EnqueueOptions.
type ScheduleSpec struct {
	Queue      string
	Payload    interface{}
	Cron       string
	IntervalMs int64
	Timezone   string
	Priority   int
	MaxRetries int
	Headers    map[string]string
	CatchUp    CatchUp
	Paused     bool
}

// Schedule is a schedule as the server reports it.
type Schedule struct {
	Name       string            `json:"name"`
	Queue      string            `json:"queue"`
	Cron       string            `json:"cron"`
	IntervalMs int64             `json:"interval_ms"`
	Timezone   string            `json:"timezone"`
	Payload    json.RawMessage   `json:"payload"`
	Priority   int               `json:"priority"`
	MaxRetries int               `json:"max_retries"`
	Headers    map[string]string `json:"headers"`
	CatchUp    CatchUp           `json:"catchup"`
	Paused     bool              `json:"paused"`
	CreatedAt  time.Time         `json:"created_at"`
	NextRunAt  time.Time         `json:"next_run_at"`
	LastRunAt  *time.Time        `json:"last_run_at"`
	RunsTotal  int64             `json:"runs_total"`
}

type scheduleBody struct {
	Queue      string            `json:"queue"`
	Payload    json.RawMessage   `json:"payload"`
	Cron       string            `json:"cron,omitempty"`
	IntervalMs int64             `json:"interval_ms,omitempty"`
	Timezone   string            `json:"timezone,omitempty"`
	Priority   *int              `json:"priority,omitempty"`
	MaxRetries *int              `json:"max_retries,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	CatchUp    CatchUp           `json:"catchup,omitempty"`
	Paused     bool              `json:"paused,omitempty"`
}

// PutSchedule creates or replaces the schedule name; it first runs at its next tick.
func (c *Client) PutSchedule(ctx context.Context, name string, spec ScheduleSpec) (*Schedule, error) {
	job, err := newEnqueueBody(spec.Payload, EnqueueOptions{Priority: spec.Priority, MaxRetries: spec.MaxRetries})
	if err != nil {
		return nil, err
	}
	body := scheduleBody{
		Queue: spec.Queue, Payload: job.Payload, Cron: spec.Cron, IntervalMs: spec.IntervalMs, Timezone: spec.Timezone,
		Priority: job.Priority, MaxRetries: job.MaxRetries, Headers: spec.Headers, CatchUp: spec.CatchUp, Paused: spec.Paused,
	}
	return c.scheduleCall(ctx, http.MethodPut, schedulePath(name, ""), body)
}

// GetSchedule returns the schedule name (ErrScheduleNotFound if there is none).
func (c *Client) GetSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.scheduleCall(ctx, http.MethodGet, schedulePath(name, ""), nil)
}

// ListSchedules returns every schedule, by name, with its next run time.
func (c *Client) ListSchedules(ctx context.Context) ([]Schedule, error) {
	var reply struct {
		Schedules []Schedule `json:"schedules"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/schedules", out: &reply})
	return reply.Schedules, err
}

// DeleteSchedule deletes the schedule name.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: schedulePath(name, "")})
}

// PauseSchedule skips the schedule's ticks until ResumeSchedule.
func (c *Client) PauseSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.scheduleCall(ctx, http.MethodPost, schedulePath(name, "/pause"), struct{}{})
}

// ResumeSchedule runs the schedule again from its next tick (ticks missed while paused
// are not run).
func (c *Client) ResumeSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.scheduleCall(ctx, http.MethodPost, schedulePath(name, "/resume"), struct{}{})
}

// RunSchedule enqueues the schedule's job now and returns its id; the next run stays.
func (c *Client) RunSchedule(ctx context.Context, name string) (string, error) {
	var result EnqueueResult
	err := c.do(ctx, call{method: http.MethodPost, path: schedulePath(name, "/run"), body: struct{}{}, out: &result})
	return result.JobID, err
}

func (c *Client) scheduleCall(ctx context.Context, method, path string, body interface{}) (*Schedule, error) {
	var schedule Schedule
	if err := c.do(ctx, call{method: method, path: path, body: body, out: &schedule}); err != nil {
		return nil, err
	}
	return &schedule, nil
}

func schedulePath(name, suffix string) string {
	return fmt.Sprintf("/v1/schedules/%s%s", url.PathEscape(name), suffix)
}
