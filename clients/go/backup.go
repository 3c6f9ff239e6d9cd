package rivetq

import (
	"context"
	"net/http"
	"time"
)

const backupExtraTimeout = time.Hour // a large store takes a while to copy

// BackupResult is an online backup the server wrote: where (Dest as the server resolved
// it), the snapshot's log position and the last log record the backup holds.
type BackupResult struct {
	URL         string `json:"url"`
	SnapshotLSN int64  `json:"snapshot_lsn"`
	LastLSN     int64  `json:"last_lsn"`
}

// Backup writes a consistent copy of the running server's data (snapshot + write-ahead
// log) to dest: a directory on the server's host or s3://bucket/prefix. Restore it with
// `rivetqctl restore`. The client's timeout is extended by an hour for it. A server on
// the memory backend has nothing to back up: ErrStateConflict.
func (c *Client) Backup(ctx context.Context, dest string) (*BackupResult, error) {
	var result BackupResult
	body := map[string]string{"dest": dest}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/admin/backup", body: body, out: &result, extra: backupExtraTimeout}); err != nil {
		return nil, err
	}
	return &result, nil
}
