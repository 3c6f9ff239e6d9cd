-- Job headers (string -> string metadata such as a W3C traceparent), NULL when none.
ALTER TABLE rivetq_jobs ADD COLUMN headers jsonb;
