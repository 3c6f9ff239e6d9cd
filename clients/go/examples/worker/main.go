// Command worker sends the "emails" queue's jobs through a handler until SIGINT or
// SIGTERM, then finishes the jobs in hand and exits.
package main

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

type email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	url := os.Getenv("RIVETQ_URL")
	if url == "" {
		url = "http://localhost:8080"
	}
	client := rivetq.NewClient(url, rivetq.WithToken(os.Getenv("RIVETQ_TOKEN")))

	worker := rivetq.NewWorker(client, "emails", func(ctx context.Context, job rivetq.Job) error {
		var msg email
		if err := job.DecodePayload(&msg); err != nil {
			return err // nacked: retried with backoff, then dead-lettered
		}
		if msg.To == "" {
			return rivetq.RetryAfter(time.Minute, errors.New("no recipient yet"))
		}
		log.Printf("sending %q to %s (attempt %d)", msg.Subject, msg.To, job.Tries+1)
		return nil // acked
	}, rivetq.WorkerOptions{Concurrency: 8, DrainTimeout: 30 * time.Second})

	if err := worker.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
