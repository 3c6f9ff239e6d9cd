// Command loadgen drives a RivetQ server's single-job REST calls the way the peer
// harness does (enqueue N jobs, then lease one and ack it until all are acked), with a
// load generator cheap enough to leave the machine's cores to the server: ~20-30 µs of
// CPU per call, where the harness's Python client takes ~110.
//
//	go run . -url http://127.0.0.1:8080 -jobs 20000 -clients 64
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type phase struct {
	Jobs      int     `json:"jobs"`
	Seconds   float64 `json:"seconds"`
	JobsPerS  float64 `json:"jobs_per_s"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	ClientCPU float64 `json:"client_cpu_us_per_call"`
}

type result struct {
	Enqueue  phase `json:"enqueue"`
	LeaseAck phase `json:"lease_ack"`
}

type leased struct {
	Jobs []struct {
		ID      string `json:"id"`
		LeaseID string `json:"lease_id"`
	} `json:"jobs"`
}

type caller struct {
	client *http.Client
	base   string
}

func (c caller) post(path string, body []byte, into any) error {
	response, err := c.client.Post(c.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		return err
	}
	if response.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %d %s", path, response.StatusCode, data)
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(data, into)
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		panic(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

// run calls work from clients goroutines until it returns false (or an error), and
// times the phase; calls counts the HTTP calls made, for the client's CPU per call.
func run(clients int, calls *int64, work func() (time.Duration, bool, error)) (phase, []time.Duration, error) {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	cpu0, start := cpuSeconds(), time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own []time.Duration
			for {
				took, more, err := work()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				if !more {
					break
				}
				own = append(own, took)
			}
			mu.Lock()
			latencies = append(latencies, own...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	seconds, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	p := phase{Jobs: len(latencies), Seconds: seconds, JobsPerS: float64(len(latencies)) / seconds}
	if n := len(latencies); n > 0 {
		p.P50Ms = float64(latencies[n/2].Microseconds()) / 1000
		p.P99Ms = float64(latencies[n*99/100].Microseconds()) / 1000
	}
	if n := atomic.LoadInt64(calls); n > 0 {
		p.ClientCPU = cpu / float64(n) * 1e6
	}
	return p, latencies, firstErr
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the server's base URL")
	jobs := flag.Int("jobs", 20000, "jobs to enqueue, then lease and ack")
	clients := flag.Int("clients", 8, "concurrent producers, then concurrent consumers")
	queue := flag.String("queue", "loadgen", "the queue")
	jsonOut := flag.String("json-out", "", "write the result here as JSON")
	flag.Parse()

	transport := &http.Transport{MaxIdleConns: *clients, MaxIdleConnsPerHost: *clients, DisableCompression: true}
	c := caller{client: &http.Client{Transport: transport, Timeout: 60 * time.Second}, base: *base}

	var next, enqueueCalls int64
	enqueuePath := "/v1/queues/" + *queue + "/enqueue"
	enqueue, _, err := run(*clients, &enqueueCalls, func() (time.Duration, bool, error) {
		n := atomic.AddInt64(&next, 1)
		if n > int64(*jobs) {
			return 0, false, nil
		}
		body := []byte(fmt.Sprintf(`{"payload":{"n":%d},"priority":0,"delay_ms":0,"max_retries":3}`, n))
		start := time.Now()
		atomic.AddInt64(&enqueueCalls, 1)
		err := c.post(enqueuePath, body, nil)
		return time.Since(start), true, err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "enqueue:", err)
		os.Exit(1)
	}

	var acked, leaseAckCalls int64
	leasePath, leaseBody := "/v1/queues/"+*queue+"/lease", []byte(`{"max_jobs":1,"visibility_ms":30000}`)
	leaseAck, _, err := run(*clients, &leaseAckCalls, func() (time.Duration, bool, error) {
		start := time.Now()
		for atomic.LoadInt64(&acked) < int64(*jobs) {
			var got leased
			atomic.AddInt64(&leaseAckCalls, 1)
			if err := c.post(leasePath, leaseBody, &got); err != nil {
				return 0, false, err
			}
			if len(got.Jobs) == 0 {
				time.Sleep(2 * time.Millisecond) // as the harness does after an empty lease
				continue
			}
			ack, _ := json.Marshal(map[string]string{"job_id": got.Jobs[0].ID, "lease_id": got.Jobs[0].LeaseID})
			atomic.AddInt64(&leaseAckCalls, 1)
			if err := c.post("/v1/ack", ack, nil); err != nil {
				return 0, false, err
			}
			atomic.AddInt64(&acked, 1)
			return time.Since(start), true, nil
		}
		return 0, false, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "lease+ack:", err)
		os.Exit(1)
	}

	out := result{Enqueue: enqueue, LeaseAck: leaseAck}
	fmt.Printf("enqueue   %8.0f jobs/s  p50 %.2f ms  p99 %.2f ms  client CPU %.0f µs/call\n",
		enqueue.JobsPerS, enqueue.P50Ms, enqueue.P99Ms, enqueue.ClientCPU)
	fmt.Printf("lease+ack %8.0f jobs/s  p50 %.2f ms  p99 %.2f ms  client CPU %.0f µs/call\n",
		leaseAck.JobsPerS, leaseAck.P50Ms, leaseAck.P99Ms, leaseAck.ClientCPU)
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(out, "", "  ")
		if err := os.WriteFile(*jsonOut, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
