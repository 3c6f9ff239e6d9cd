package main

import (
    "context"
    "fmt"
    "log"

    rivetq "github.com/rivetq/rivetq/clients/go"
)

func main() {
    client := rivetq.NewClient("http://localhost:8080")

    // Enqueue a job
    jobID, err := client.Enqueue(context.Background(), "emails", map[string]interface{}{
        "to":      "user@example.com",
        "subject": "Hello from RivetQ",
    }, &rivetq.EnqueueOptions{
        Priority:   7,
        MaxRetries: 3,
    })
    if err != nil {
        log.Fatal(err)
    }
    fmt.Printf("Enqueued job: %s\n", jobID)

    // Lease and process jobs
    jobs, err := client.Lease(context.Background(), "emails", 1, 30000)
    if err != nil {
        log.Fatal(err)
    }

    for _, job := range jobs {
        fmt.Printf("Processing job: %s\n", job.ID)
        
        // Do work...
        
        // Acknowledge completion
        if err := client.Ack(context.Background(), job.ID, job.LeaseID); err != nil {
            log.Printf("Failed to ack: %v", err)
        }
    }
}
