package rivetq_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	rivetq "github.com/rivetq/rivetq/clients/go"
)

func TestBackupWritesASnapshotAndTheLogToADirectory(t *testing.T) {
	client, ctx := newClient(t), ctxFor(t)
	queue := newQueue(t)
	if _, err := client.Enqueue(ctx, queue, map[string]int{"n": 1}, nil); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "backup") // the test server runs on this machine
	result, err := client.Backup(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	if result.URL != dest || result.LastLSN < 1 || result.LastLSN < result.SnapshotLSN {
		t.Fatalf("backup result %+v, want url %s and a last LSN past the enqueue", result, dest)
	}
	for _, part := range []string{"snapshots", "wal"} {
		if entries, err := os.ReadDir(filepath.Join(dest, part)); err != nil || len(entries) == 0 {
			t.Fatalf("backup %s: %v entries, error %v", part, len(entries), err)
		}
	}
}

func TestBackupWithoutADestinationIsAnInvalidArgument(t *testing.T) {
	client, ctx := newClient(t), ctxFor(t)
	_, err := client.Backup(ctx, "")
	var apiErr *rivetq.APIError
	if !errors.Is(err, rivetq.ErrInvalidArgument) || !errors.As(err, &apiErr) || apiErr.Field != "dest" {
		t.Fatalf("Backup(\"\") = %v, want an invalid_argument about dest", err)
	}
}
