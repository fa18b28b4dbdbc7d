-- dbosd's own state, beside (never inside) the DBOS schema. Idempotent: `dbosd migrate` runs it
-- every time. Times are epoch milliseconds from the database clock, as DBOS stores them.
CREATE SCHEMA IF NOT EXISTS dbosd;

-- Bulk jobs (StartBulkJob): one row per job, its cursor and progress updated by the same
-- transaction as each batch it applies, so a job resumes exactly where its last batch committed.
CREATE TABLE IF NOT EXISTS dbosd.bulk_jobs (
    job_id text PRIMARY KEY,
    -- The DBOS schema the job's workflows live in (one database may hold several).
    dbos_schema text NOT NULL,
    operation text NOT NULL,
    -- The operation's request as the API received it (protobuf), read back by the runner.
    request bytea NOT NULL,
    -- The starting token's scope (NULL: any); every batch's SQL carries it.
    scope_applications text[],
    scope_queues text[],
    created_by text,
    rows_per_second integer NOT NULL,
    batch_size integer NOT NULL,
    -- The last workflow (created_at, workflow_uuid) matching when the job started: the job's end.
    bound_created_at bigint,
    bound_workflow_uuid text,
    -- The last workflow processed (NULL: none yet).
    cursor_created_at bigint,
    cursor_workflow_uuid text,
    state text NOT NULL,
    total_count bigint NOT NULL DEFAULT 0,
    processed_count bigint NOT NULL DEFAULT 0,
    changed_count bigint NOT NULL DEFAULT 0,
    batch_count bigint NOT NULL DEFAULT 0,
    error text,
    -- The replica running it and until when its lease holds.
    runner_id text,
    lease_expires_at bigint,
    created_at bigint NOT NULL DEFAULT (EXTRACT(epoch FROM now()) * 1000)::bigint,
    updated_at bigint NOT NULL DEFAULT (EXTRACT(epoch FROM now()) * 1000)::bigint,
    finished_at bigint
);

CREATE INDEX IF NOT EXISTS bulk_jobs_runnable ON dbosd.bulk_jobs (dbos_schema, state, created_at);
