"""Disaster recovery for the embedded engine: online backups, continuous WAL shipping
to a directory or S3-compatible storage, and restore (docs/backup.md)."""
