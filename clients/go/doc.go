// Package rivetq is the Go client for the RivetQ task queue server.
//
// It speaks the server's REST API (/v1) using only the standard library. A Client
// is safe for concurrent use; create one per server and reuse it.
//
//	client := rivetq.NewClient("http://localhost:8080", rivetq.WithToken("secret"))
//	id, err := client.Enqueue(ctx, "emails", map[string]string{"to": "a@b.c"}, nil)
//
// Errors returned by the server are *APIError values that match the package's
// sentinel errors with errors.Is, e.g. errors.Is(err, rivetq.ErrLeaseLost). A request
// that got no reply is a *ConnectionError naming the server's URL.
//
// Worker runs a handler over a queue with bounded concurrency, extends leases while
// the handler runs, acks on success (inside its next lease call when it can), nacks on
// failure and stops gracefully.
package rivetq
