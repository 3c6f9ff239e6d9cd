package rivetq_test

import (
	"reflect"
	"testing"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

func TestSchedulesPutGetPauseRunDelete(t *testing.T) {
	c, name, q := newClient(t), newQueue(t), newQueue(t)
	spec := rivetq.ScheduleSpec{
		Queue: q, Payload: map[string]int{"n": 1}, Cron: "30 2 * * *", Timezone: "Europe/Berlin",
		Priority: 7, Headers: map[string]string{"team": "data"}, CatchUp: rivetq.CatchUpAll,
	}
	created := must(c.PutSchedule(ctxFor(t), name, spec))(t)
	if created.Name != name || created.Queue != q || created.Priority != 7 || created.CatchUp != rivetq.CatchUpAll ||
		!created.NextRunAt.After(time.Now()) || created.LastRunAt != nil || !reflect.DeepEqual(created.Headers, spec.Headers) {
		t.Fatalf("created %+v", created)
	}
	if got := must(c.GetSchedule(ctxFor(t), name))(t); got.Cron != "30 2 * * *" || got.Timezone != "Europe/Berlin" {
		t.Fatalf("got %+v", got)
	}
	found := false
	for _, s := range must(c.ListSchedules(ctxFor(t)))(t) {
		found = found || s.Name == name
	}
	if !found {
		t.Fatalf("%s not listed", name)
	}
	if paused := must(c.PauseSchedule(ctxFor(t), name))(t); !paused.Paused {
		t.Fatal("not paused")
	}
	if resumed := must(c.ResumeSchedule(ctxFor(t), name))(t); resumed.Paused {
		t.Fatal("still paused")
	}
	jobID := must(c.RunSchedule(ctxFor(t), name))(t)
	if job := must(c.GetJob(ctxFor(t), jobID))(t); job.Headers["rivetq-schedule"] != name || job.Priority != 7 {
		t.Fatalf("run-now job %+v", job)
	}
	check(t, c.DeleteSchedule(ctxFor(t), name))
	_, err := c.GetSchedule(ctxFor(t), name)
	assertIs(t, err, rivetq.ErrScheduleNotFound)
	_, err = c.PutSchedule(ctxFor(t), name, rivetq.ScheduleSpec{Queue: q, Payload: 1, Cron: "not cron"})
	assertIs(t, err, rivetq.ErrInvalidArgument)
}
