-- dbosd schema convergence: brings a DBOS system schema to the end state of Python dbos 3.4.0
-- (system-database migration version 125).
--
-- Works on:
--   * a database without the schema (creates everything);
--   * a schema left by any older Python/Go-lineage DBOS release (migration versions 1..124);
--   * a schema already at 125 (then nothing changes and no table lock is taken; only the three
--     functions are re-created with CREATE OR REPLACE).
--
-- Contract with the Rust caller:
--   * {{schema}} is replaced with the double-quoted schema identifier, e.g. "dbos". Where the
--     schema is needed as a string it is written as the dollar-quoted literal $s${{schema}}$s$,
--     so the substituted identifier needs no further escaping.
--   * The whole file runs in ONE transaction (it contains no CONCURRENTLY and no COMMIT). It only
--     takes table locks for changes it actually makes (every ALTER / CREATE INDEX / DROP TRIGGER
--     is guarded by a catalog check).
--   * It creates S.dbos_migrations when absent but never reads or writes its row: the caller
--     records version 125 (only if lower) after this script succeeds.
--   * Requires PostgreSQL 13+ (gen_random_uuid() is core since 13). No extensions.
--
-- Physical column order of freshly created tables matches Python's (creation columns, then the
-- later migrations' columns in migration order); upgraded tables get missing columns appended
-- in migration order as well.

SET LOCAL client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS {{schema}};

---------------------------------------------------------------------------------------------------
-- Tables (end-state definitions; skipped when the table already exists)
---------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS {{schema}}.dbos_migrations (
    version BIGINT NOT NULL,
    CONSTRAINT dbos_migrations_pkey PRIMARY KEY (version)
);

CREATE TABLE IF NOT EXISTS {{schema}}.workflow_status (
    workflow_uuid              TEXT NOT NULL,
    status                     TEXT,
    name                       TEXT,
    authenticated_user         TEXT,
    assumed_role               TEXT,
    authenticated_roles        TEXT,
    request                    TEXT,
    output                     TEXT,
    error                      TEXT,
    executor_id                TEXT,
    created_at                 BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    updated_at                 BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    application_version        TEXT,
    application_id             TEXT,
    class_name                 VARCHAR(255) DEFAULT NULL,
    config_name                VARCHAR(255) DEFAULT NULL,
    recovery_attempts          BIGINT DEFAULT 0,
    queue_name                 TEXT,
    workflow_timeout_ms        BIGINT,
    workflow_deadline_epoch_ms BIGINT,
    inputs                     TEXT,
    started_at_epoch_ms        BIGINT,
    deduplication_id           TEXT,
    priority                   INT4 NOT NULL DEFAULT 0,
    queue_partition_key        TEXT,
    forked_from                TEXT,
    owner_xid                  TEXT,
    parent_workflow_id         TEXT,
    serialization              TEXT,
    delay_until_epoch_ms       BIGINT,
    was_forked_from            BOOLEAN NOT NULL DEFAULT FALSE,
    rate_limited               BOOLEAN NOT NULL DEFAULT FALSE,
    completed_at               BIGINT,
    attributes                 JSONB,
    schedule_name              TEXT,
    debounce_deadline_epoch_ms BIGINT,
    is_debounced               BOOLEAN NOT NULL DEFAULT FALSE,
    application_name           TEXT,
    creator_xid                TEXT,
    CONSTRAINT workflow_status_pkey PRIMARY KEY (workflow_uuid)
);

-- No foreign key to workflow_status (removed by migration 112).
CREATE TABLE IF NOT EXISTS {{schema}}.operation_outputs (
    workflow_uuid         TEXT NOT NULL,
    function_id           INT4 NOT NULL,
    function_name         TEXT NOT NULL DEFAULT '',
    output                TEXT,
    error                 TEXT,
    child_workflow_id     TEXT,
    started_at_epoch_ms   BIGINT,
    completed_at_epoch_ms BIGINT,
    serialization         TEXT,
    application_name      TEXT,
    retention_timestamp   BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    CONSTRAINT operation_outputs_pkey PRIMARY KEY (workflow_uuid, function_id)
);

CREATE TABLE IF NOT EXISTS {{schema}}.notifications (
    message_uuid            TEXT NOT NULL DEFAULT gen_random_uuid(),
    destination_uuid        TEXT NOT NULL,
    topic                   TEXT,
    message                 TEXT NOT NULL,
    created_at_epoch_ms     BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    serialization           TEXT,
    consumed                BOOLEAN NOT NULL DEFAULT FALSE,
    consumed_by_function_id INT4,
    CONSTRAINT notifications_pkey PRIMARY KEY (message_uuid),
    CONSTRAINT notifications_destination_uuid_fkey FOREIGN KEY (destination_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {{schema}}.workflow_events (
    workflow_uuid TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    serialization TEXT,
    CONSTRAINT workflow_events_pkey PRIMARY KEY (workflow_uuid, key),
    CONSTRAINT workflow_events_workflow_uuid_fkey FOREIGN KEY (workflow_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {{schema}}.streams (
    workflow_uuid TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    "offset"      INT4 NOT NULL,
    function_id   INT4 NOT NULL DEFAULT 0,
    serialization TEXT,
    CONSTRAINT streams_pkey PRIMARY KEY (workflow_uuid, key, "offset"),
    CONSTRAINT streams_workflow_uuid_fkey FOREIGN KEY (workflow_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {{schema}}.event_dispatch_kv (
    service_name     TEXT NOT NULL,
    workflow_fn_name TEXT NOT NULL,
    key              TEXT NOT NULL,
    value            TEXT,
    update_seq       NUMERIC(38, 0),
    update_time      NUMERIC(38, 15),
    CONSTRAINT event_dispatch_kv_pkey PRIMARY KEY (service_name, workflow_fn_name, key)
);

CREATE TABLE IF NOT EXISTS {{schema}}.workflow_events_history (
    workflow_uuid TEXT NOT NULL,
    function_id   INT4 NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    serialization TEXT,
    CONSTRAINT workflow_events_history_pkey PRIMARY KEY (workflow_uuid, function_id, key),
    CONSTRAINT workflow_events_history_workflow_uuid_fkey FOREIGN KEY (workflow_uuid)
        REFERENCES {{schema}}.workflow_status (workflow_uuid) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS {{schema}}.workflow_schedules (
    schedule_id         TEXT NOT NULL,
    schedule_name       TEXT NOT NULL,
    workflow_name       TEXT NOT NULL,
    workflow_class_name TEXT,
    schedule            TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'ACTIVE',
    context             TEXT NOT NULL,
    last_fired_at       TEXT,
    automatic_backfill  BOOLEAN NOT NULL DEFAULT FALSE,
    cron_timezone       TEXT,
    queue_name          TEXT,
    application_name    TEXT,
    CONSTRAINT workflow_schedules_pkey PRIMARY KEY (schedule_id),
    CONSTRAINT workflow_schedules_schedule_name_key UNIQUE (schedule_name)
);

CREATE TABLE IF NOT EXISTS {{schema}}.application_versions (
    version_id        TEXT NOT NULL,
    version_name      TEXT NOT NULL,
    version_timestamp BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    created_at        BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    application_name  TEXT,
    CONSTRAINT application_versions_pkey PRIMARY KEY (version_id),
    CONSTRAINT application_versions_version_name_key UNIQUE (version_name)
);

CREATE TABLE IF NOT EXISTS {{schema}}.queues (
    queue_id                        TEXT NOT NULL DEFAULT (gen_random_uuid())::text,
    name                            TEXT NOT NULL,
    concurrency                     INT4,
    worker_concurrency              INT4,
    rate_limit_max                  INT4,
    rate_limit_period_sec           DOUBLE PRECISION,
    priority_enabled                BOOLEAN NOT NULL DEFAULT FALSE,
    partition_queue                 BOOLEAN NOT NULL DEFAULT FALSE,
    polling_interval_sec            DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    created_at                      BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    updated_at                      BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    application_name                TEXT,
    partition_concurrency           INT4,
    partition_worker_concurrency    INT4,
    partition_rate_limit_max        INT4,
    partition_rate_limit_period_sec DOUBLE PRECISION,
    CONSTRAINT queues_pkey PRIMARY KEY (queue_id),
    CONSTRAINT queues_name_key UNIQUE (name)
);

-- Payload tables: deliberately no foreign keys to workflow_status.
CREATE TABLE IF NOT EXISTS {{schema}}.workflow_input (
    workflow_uuid       TEXT NOT NULL,
    inputs              TEXT,
    retention_timestamp BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    CONSTRAINT workflow_input_pkey PRIMARY KEY (workflow_uuid)
);

CREATE TABLE IF NOT EXISTS {{schema}}.workflow_output (
    workflow_uuid       TEXT NOT NULL,
    output              TEXT,
    error               TEXT,
    retention_timestamp BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint,
    CONSTRAINT workflow_output_pkey PRIMARY KEY (workflow_uuid)
);

---------------------------------------------------------------------------------------------------
-- Upgrades of tables that already existed: columns, constraints, indexes, triggers
---------------------------------------------------------------------------------------------------

DO $converge$
DECLARE
    schema_ident CONSTANT text := $s${{schema}}$s$;
    ns           CONSTANT oid  := to_regnamespace($s${{schema}}$s$);
    col          record;
    idx          record;
    con          record;
    tbl_oid      oid;
BEGIN
    IF ns IS NULL THEN
        RAISE EXCEPTION 'dbosd converge: schema % was not created', schema_ident;
    END IF;

    -- 1. Columns that later migrations added to existing tables, in migration order. A table
    --    created above already has all of them, so this only acts on older schemas.
    FOR col IN
        SELECT v.tbl, v.colname, v.spec
        FROM (VALUES
            (1,  'workflow_status',         'queue_partition_key',             'TEXT'),
            (2,  'workflow_status',         'forked_from',                     'TEXT'),
            (3,  'operation_outputs',       'started_at_epoch_ms',             'BIGINT'),
            (4,  'operation_outputs',       'completed_at_epoch_ms',           'BIGINT'),
            (5,  'streams',                 'function_id',                     'INT4 NOT NULL DEFAULT 0'),
            (6,  'workflow_status',         'owner_xid',                       'TEXT'),
            (7,  'workflow_status',         'parent_workflow_id',              'TEXT'),
            (8,  'workflow_status',         'serialization',                   'TEXT'),
            (9,  'notifications',           'serialization',                   'TEXT'),
            (10, 'workflow_events',         'serialization',                   'TEXT'),
            (11, 'workflow_events_history', 'serialization',                   'TEXT'),
            (12, 'operation_outputs',       'serialization',                   'TEXT'),
            (13, 'streams',                 'serialization',                   'TEXT'),
            (14, 'notifications',           'consumed',                        'BOOLEAN NOT NULL DEFAULT FALSE'),
            (15, 'workflow_schedules',      'last_fired_at',                   'TEXT'),
            (16, 'workflow_schedules',      'automatic_backfill',              'BOOLEAN NOT NULL DEFAULT FALSE'),
            (17, 'workflow_schedules',      'cron_timezone',                   'TEXT'),
            (18, 'workflow_status',         'delay_until_epoch_ms',            'BIGINT'),
            (19, 'workflow_schedules',      'queue_name',                      'TEXT'),
            (20, 'workflow_status',         'was_forked_from',                 'BOOLEAN NOT NULL DEFAULT FALSE'),
            (21, 'workflow_status',         'rate_limited',                    'BOOLEAN NOT NULL DEFAULT FALSE'),
            (22, 'workflow_status',         'completed_at',                    'BIGINT'),
            (23, 'workflow_status',         'attributes',                      'JSONB'),
            (24, 'workflow_status',         'schedule_name',                   'TEXT'),
            (25, 'workflow_status',         'debounce_deadline_epoch_ms',      'BIGINT'),
            (26, 'workflow_status',         'is_debounced',                    'BOOLEAN NOT NULL DEFAULT FALSE'),
            (27, 'workflow_status',         'application_name',                'TEXT'),
            (28, 'queues',                  'application_name',                'TEXT'),
            (29, 'workflow_schedules',      'application_name',                'TEXT'),
            (30, 'application_versions',    'application_name',                'TEXT'),
            (31, 'operation_outputs',       'application_name',                'TEXT'),
            (32, 'queues',                  'partition_concurrency',           'INT4'),
            (33, 'queues',                  'partition_worker_concurrency',    'INT4'),
            (34, 'queues',                  'partition_rate_limit_max',        'INT4'),
            (35, 'queues',                  'partition_rate_limit_period_sec', 'DOUBLE PRECISION'),
            (36, 'operation_outputs',       'retention_timestamp',
                 'BIGINT NOT NULL DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint'),
            (37, 'notifications',           'consumed_by_function_id',         'INT4'),
            (38, 'workflow_status',         'creator_xid',                     'TEXT')
        ) AS v(ord, tbl, colname, spec)
        WHERE NOT EXISTS (
            SELECT 1
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = ns AND c.relname = v.tbl
              AND a.attname = v.colname AND a.attnum > 0 AND NOT a.attisdropped
        )
        ORDER BY v.ord
    LOOP
        EXECUTE format('ALTER TABLE %s.%I ADD COLUMN %I %s',
                       schema_ident, col.tbl, col.colname, col.spec);
    END LOOP;

    -- 2. Schemas first created by dbos 1.x/2.0 spell the epoch-milliseconds default as
    --    (EXTRACT(epoch FROM now()) * 1000)::bigint (integer factor). Same value; rewrite it to
    --    the 1000.0 form that current releases create, so the catalog matches a fresh schema.
    --    A default already in the 1000.0 form is left alone, so this runs at most once.
    FOR col IN
        SELECT t.relname AS tbl, a.attname AS colname
        FROM pg_catalog.pg_attrdef d
        JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        JOIN pg_catalog.pg_class t ON t.oid = d.adrelid
        JOIN (VALUES
            ('workflow_status',      'created_at'),
            ('workflow_status',      'updated_at'),
            ('notifications',        'created_at_epoch_ms'),
            ('application_versions', 'version_timestamp'),
            ('application_versions', 'created_at'),
            ('queues',               'created_at'),
            ('queues',               'updated_at'),
            ('operation_outputs',    'retention_timestamp'),
            ('workflow_input',       'retention_timestamp'),
            ('workflow_output',      'retention_timestamp')
        ) AS v(tbl, colname) ON v.tbl = t.relname AND v.colname = a.attname
        WHERE t.relnamespace = ns
          AND pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE '%now()%'
          AND pg_catalog.pg_get_expr(d.adbin, d.adrelid) NOT LIKE '%1000.0%'
    LOOP
        EXECUTE format('ALTER TABLE %s.%I ALTER COLUMN %I SET DEFAULT ((EXTRACT(epoch FROM now()) * 1000.0))::bigint',
                       schema_ident, col.tbl, col.colname);
    END LOOP;

    -- 3. Very old schemas may lack the notifications primary key (Python migration 10).
    tbl_oid := to_regclass($s${{schema}}.notifications$s$);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                   WHERE conrelid = tbl_oid AND contype = 'p') THEN
        ALTER TABLE {{schema}}.notifications
            ADD CONSTRAINT notifications_pkey PRIMARY KEY (message_uuid);
    END IF;

    -- 4. Constraints that no longer exist at 125: the table-wide dedup UNIQUE constraint
    --    (replaced by the partial unique index uq_workflow_status_dedup_id) and the
    --    operation_outputs -> workflow_status foreign key (both historical names).
    FOR con IN
        SELECT c.conname, t.relname
        FROM pg_catalog.pg_constraint c
        JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
        WHERE t.relnamespace = ns
          AND ((t.relname = 'workflow_status'
                AND c.conname = 'uq_workflow_status_queue_name_dedup_id')
            OR (t.relname = 'operation_outputs'
                AND c.conname IN ('operation_outputs_workflow_uuid_fkey',
                                  'operation_outputs_workflow_uuid_foreign')))
    LOOP
        EXECUTE format('ALTER TABLE %s.%I DROP CONSTRAINT %I', schema_ident, con.relname, con.conname);
    END LOOP;

    -- 5. Indexes superseded along the way, the pre-partial versions of the forked_from and
    --    parent_workflow_id indexes (same names, rebuilt as partial indexes), and any index left
    --    INVALID by a failed CREATE INDEX CONCURRENTLY (step 6 re-creates it if it belongs to
    --    the end state).
    FOR idx IN
        SELECT i.relname
        FROM pg_catalog.pg_class i
        JOIN pg_catalog.pg_index x ON x.indexrelid = i.oid
        WHERE i.relnamespace = ns
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.oid)
          AND (i.relname IN ('workflow_status_executor_id_index',
                             'workflow_status_status_index',
                             'idx_workflow_status_queue_status_started',
                             'idx_workflow_status_in_flight',
                             'idx_workflow_status_partition_dequeue',
                             'idx_workflow_status_partition_dequeue_v2',
                             'idx_notifications',
                             'idx_operation_outputs_completed_at_function_name')
               OR (i.relname IN ('idx_workflow_status_forked_from',
                                 'idx_workflow_status_parent_workflow_id')
                   AND x.indpred IS NULL)
               OR NOT x.indisvalid)
    LOOP
        EXECUTE format('DROP INDEX %s.%I', schema_ident, idx.relname);
    END LOOP;

    -- 6. End-state secondary indexes, created when a relation of that name is absent.
    FOR idx IN
        SELECT v.uniq, v.name, v.def
        FROM (VALUES
            (1,  false, 'workflow_status_created_at_index',
                 'ON %s.workflow_status (created_at)'),
            (2,  false, 'idx_workflow_status_forked_from',
                 'ON %s.workflow_status (forked_from) WHERE forked_from IS NOT NULL'),
            (3,  false, 'idx_workflow_status_parent_workflow_id',
                 'ON %s.workflow_status (parent_workflow_id) WHERE parent_workflow_id IS NOT NULL'),
            (4,  false, 'idx_workflow_status_delayed',
                 'ON %s.workflow_status (delay_until_epoch_ms) WHERE status = ''DELAYED'''),
            (5,  true , 'uq_workflow_status_dedup_id',
                 'ON %s.workflow_status (queue_name, deduplication_id) WHERE deduplication_id IS NOT NULL'),
            (6,  false, 'idx_workflow_status_pending',
                 'ON %s.workflow_status (created_at) WHERE status = ''PENDING'''),
            (7,  false, 'idx_workflow_status_failed',
                 'ON %s.workflow_status (status, created_at) '
                 'WHERE status IN (''ERROR'', ''CANCELLED'', ''MAX_RECOVERY_ATTEMPTS_EXCEEDED'')'),
            (8,  false, 'idx_workflow_status_rate_limited',
                 'ON %s.workflow_status (queue_name, started_at_epoch_ms) WHERE rate_limited = TRUE'),
            (9,  false, 'idx_workflow_status_completed_at',
                 'ON %s.workflow_status (completed_at) WHERE completed_at IS NOT NULL'),
            (10, false, 'idx_workflow_status_started_at',
                 'ON %s.workflow_status (started_at_epoch_ms) WHERE started_at_epoch_ms IS NOT NULL'),
            (11, false, 'idx_workflow_status_attributes',
                 'ON %s.workflow_status USING gin (attributes) WHERE attributes IS NOT NULL'),
            (12, false, 'idx_workflow_status_schedule_name',
                 'ON %s.workflow_status (schedule_name) WHERE schedule_name IS NOT NULL'),
            (13, false, 'idx_workflow_status_in_flight_v2',
                 'ON %s.workflow_status (queue_name, status, priority, created_at) '
                 'INCLUDE (application_name) WHERE status IN (''ENQUEUED'', ''PENDING'')'),
            (14, false, 'idx_workflow_status_partition_dequeue_v3',
                 'ON %s.workflow_status (queue_name, status, queue_partition_key, priority, created_at, workflow_uuid) '
                 'INCLUDE (application_name) '
                 'WHERE status IN (''ENQUEUED'', ''PENDING'') AND queue_partition_key IS NOT NULL'),
            (15, false, 'idx_workflow_status_deadline',
                 'ON %s.workflow_status (workflow_deadline_epoch_ms) '
                 'WHERE status IN (''ENQUEUED'', ''PENDING'', ''DELAYED'') AND workflow_deadline_epoch_ms IS NOT NULL'),
            (16, false, 'idx_operation_outputs_completed_at_function_name_v2',
                 'ON %s.operation_outputs (completed_at_epoch_ms, function_name) INCLUDE (application_name)'),
            (17, false, 'idx_operation_outputs_retention',
                 'ON %s.operation_outputs (retention_timestamp)'),
            (18, false, 'idx_workflow_topic',
                 'ON %s.notifications (destination_uuid, topic)'),
            (19, false, 'idx_workflow_input_retention',
                 'ON %s.workflow_input (retention_timestamp)'),
            (20, false, 'idx_workflow_output_retention',
                 'ON %s.workflow_output (retention_timestamp)'),
            (21, true , 'uq_application_versions_owner_version',
                 'ON %s.application_versions (application_name, version_name) WHERE application_name IS NOT NULL'),
            (22, true , 'uq_application_versions_unclaimed_version',
                 'ON %s.application_versions (version_name) WHERE application_name IS NULL'),
            (23, false, 'idx_application_versions_timestamp',
                 'ON %s.application_versions (version_timestamp DESC)'),
            (24, false, 'idx_application_versions_owner_timestamp',
                 'ON %s.application_versions (application_name, version_timestamp DESC)')
        ) AS v(ord, uniq, name, def)
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                          WHERE c.relnamespace = ns AND c.relname = v.name)
        ORDER BY v.ord
    LOOP
        EXECUTE format('CREATE %sINDEX %I ', CASE WHEN idx.uniq THEN 'UNIQUE ' ELSE '' END, idx.name)
             || format(idx.def, schema_ident);
    END LOOP;

    -- 7. NOTIFY triggers other than the notifications one are gone at 125 (streams: 43,
    --    workflow_events: 44); drop them and their functions.
    FOR con IN
        SELECT tg.tgname AS conname, t.relname
        FROM pg_catalog.pg_trigger tg
        JOIN pg_catalog.pg_class t ON t.oid = tg.tgrelid
        WHERE t.relnamespace = ns AND NOT tg.tgisinternal
          AND ((t.relname = 'workflow_events' AND tg.tgname = 'dbos_workflow_events_trigger')
            OR (t.relname = 'streams' AND tg.tgname = 'dbos_streams_trigger'))
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s.%I', con.conname, schema_ident, con.relname);
    END LOOP;
END
$converge$;

DROP FUNCTION IF EXISTS {{schema}}.workflow_events_function();
DROP FUNCTION IF EXISTS {{schema}}.streams_function();

---------------------------------------------------------------------------------------------------
-- Functions
---------------------------------------------------------------------------------------------------

-- Earlier enqueue_workflow signatures: 13 parameters (migration 14), 16 parameters (38).
DROP FUNCTION IF EXISTS {{schema}}.enqueue_workflow(
    text, text, json[], json, text, text, text, text, bigint, bigint, text, integer, text);
DROP FUNCTION IF EXISTS {{schema}}.enqueue_workflow(
    text, text, json[], json, text, text, text, text, bigint, bigint, text, integer, text,
    text, text, bigint);

-- Enqueue a workflow with portable-JSON inputs. Returns the workflow ID.
--   * The row is ENQUEUED, or DELAYED when delay_until_epoch_ms is given.
--   * The inputs go into workflow_input as {"positionalArgs": [...], "namedArgs": {...}}
--     (a NULL positional_args / named_args is stored as [] / {}).
--   * An existing row with the same ID is left as it is (only updated_at moves) and its ID is
--     returned; no name/class/config conflict check is made.
--   * A (queue_name, deduplication_id) collision with an active workflow raises
--     'DBOS queue duplicated' with SQLSTATE 23505.
CREATE OR REPLACE FUNCTION {{schema}}.enqueue_workflow(
    workflow_name        TEXT,
    queue_name           TEXT,
    positional_args      JSON[] DEFAULT ARRAY[]::JSON[],
    named_args           JSON   DEFAULT '{}'::JSON,
    class_name           TEXT   DEFAULT NULL,
    config_name          TEXT   DEFAULT NULL,
    workflow_id          TEXT   DEFAULT NULL,
    app_version          TEXT   DEFAULT NULL,
    timeout_ms           BIGINT DEFAULT NULL,
    deadline_epoch_ms    BIGINT DEFAULT NULL,
    deduplication_id     TEXT   DEFAULT NULL,
    priority             INT4   DEFAULT NULL,
    queue_partition_key  TEXT   DEFAULT NULL,
    authenticated_user   TEXT   DEFAULT NULL,
    authenticated_roles  TEXT   DEFAULT NULL,
    delay_until_epoch_ms BIGINT DEFAULT NULL,
    application_name     TEXT   DEFAULT NULL
) RETURNS TEXT
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $enqueue$
DECLARE
    new_id      TEXT;
    now_ms      BIGINT;
    initial     TEXT;
    input_doc   TEXT;
    err_con     TEXT;
BEGIN
    IF coalesce(enqueue_workflow.workflow_name, '') = '' THEN
        RAISE EXCEPTION 'enqueue_workflow: workflow_name must be a non-empty string';
    END IF;
    IF coalesce(enqueue_workflow.queue_name, '') = '' THEN
        RAISE EXCEPTION 'enqueue_workflow: queue_name must be a non-empty string';
    END IF;
    IF enqueue_workflow.named_args IS NOT NULL
       AND json_typeof(enqueue_workflow.named_args) <> 'object' THEN
        RAISE EXCEPTION 'enqueue_workflow: named_args must be a JSON object, got %',
            json_typeof(enqueue_workflow.named_args);
    END IF;
    IF enqueue_workflow.workflow_id = '' THEN
        RAISE EXCEPTION 'enqueue_workflow: workflow_id must not be an empty string (pass NULL for a generated ID)';
    END IF;
    IF enqueue_workflow.delay_until_epoch_ms < 0 THEN
        RAISE EXCEPTION 'enqueue_workflow: delay_until_epoch_ms must not be negative, got %',
            enqueue_workflow.delay_until_epoch_ms;
    END IF;

    new_id := coalesce(enqueue_workflow.workflow_id, gen_random_uuid()::text);
    now_ms := (extract(epoch FROM now()) * 1000)::bigint;
    initial := CASE WHEN enqueue_workflow.delay_until_epoch_ms IS NULL
                    THEN 'ENQUEUED' ELSE 'DELAYED' END;
    input_doc := json_build_object(
        'positionalArgs', coalesce(enqueue_workflow.positional_args, ARRAY[]::json[]),
        'namedArgs',      coalesce(enqueue_workflow.named_args, '{}'::json))::text;

    BEGIN
        INSERT INTO {{schema}}.workflow_status (
            workflow_uuid, status, name, class_name, config_name,
            queue_name, deduplication_id, priority, queue_partition_key, application_version,
            created_at, updated_at, recovery_attempts,
            workflow_timeout_ms, workflow_deadline_epoch_ms,
            parent_workflow_id, owner_xid, serialization,
            authenticated_user, authenticated_roles, delay_until_epoch_ms, application_name)
        SELECT
            new_id, initial, enqueue_workflow.workflow_name,
            enqueue_workflow.class_name, enqueue_workflow.config_name,
            enqueue_workflow.queue_name, enqueue_workflow.deduplication_id,
            coalesce(enqueue_workflow.priority, 0), enqueue_workflow.queue_partition_key,
            enqueue_workflow.app_version,
            now_ms, now_ms, 0,
            enqueue_workflow.timeout_ms, enqueue_workflow.deadline_epoch_ms,
            NULL, gen_random_uuid()::text, 'portable_json',
            enqueue_workflow.authenticated_user, enqueue_workflow.authenticated_roles,
            enqueue_workflow.delay_until_epoch_ms, enqueue_workflow.application_name
        ON CONFLICT (workflow_uuid) DO UPDATE SET updated_at = excluded.updated_at;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS err_con = CONSTRAINT_NAME;
        RAISE EXCEPTION 'DBOS queue duplicated'
            USING ERRCODE = 'unique_violation',
                  CONSTRAINT = err_con,
                  DETAIL = format('Workflow %s cannot be enqueued: queue %s already holds an active workflow with deduplication ID %s',
                                  new_id, enqueue_workflow.queue_name, enqueue_workflow.deduplication_id);
    END;

    INSERT INTO {{schema}}.workflow_input (workflow_uuid, inputs, retention_timestamp)
    VALUES (new_id, input_doc, now_ms)
    ON CONFLICT (workflow_uuid) DO NOTHING;

    RETURN new_id;
END
$enqueue$;

-- Send a portable-JSON message to a workflow. message_id is the notification's idempotency key,
-- used verbatim (a repeated message_id is ignored). An unknown destination raises
-- 'DBOS non-existent workflow' with SQLSTATE 23503.
CREATE OR REPLACE FUNCTION {{schema}}.send_message(
    destination_id TEXT,
    message        JSON,
    topic          TEXT DEFAULT NULL,
    message_id     TEXT DEFAULT NULL
) RETURNS VOID
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $send$
BEGIN
    INSERT INTO {{schema}}.notifications (destination_uuid, topic, message, message_uuid, serialization)
    SELECT send_message.destination_id,
           coalesce(send_message.topic, '__null__topic__'),
           send_message.message::text,
           coalesce(send_message.message_id, gen_random_uuid()::text),
           'portable_json'
    ON CONFLICT (message_uuid) DO NOTHING;
EXCEPTION WHEN foreign_key_violation THEN
    RAISE EXCEPTION 'DBOS non-existent workflow'
        USING ERRCODE = 'foreign_key_violation',
              DETAIL = format('No workflow with ID %s exists to receive the message', send_message.destination_id);
END
$send$;

-- Trigger function: wake up receivers LISTENing on dbos_notifications_channel.
-- Payload: "<destination_uuid>::<topic>".
CREATE OR REPLACE FUNCTION {{schema}}.notifications_function()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $notify$
BEGIN
    PERFORM pg_notify('dbos_notifications_channel', NEW.destination_uuid || '::' || NEW.topic);
    RETURN NULL;  -- AFTER trigger: the result is ignored
END
$notify$;

DO $converge_trigger$
DECLARE
    tbl_oid CONSTANT oid := to_regclass($s${{schema}}.notifications$s$);
    fn_oid  CONSTANT oid := to_regprocedure($s${{schema}}.notifications_function()$s$);
    cur     record;
BEGIN
    SELECT tg.tgfoid, tg.tgtype, tg.tgenabled, tg.tgnargs, tg.tgqual IS NULL AS unconditional
      INTO cur
      FROM pg_catalog.pg_trigger tg
     WHERE tg.tgrelid = tbl_oid AND tg.tgname = 'dbos_notifications_trigger' AND NOT tg.tgisinternal;
    -- tgtype 5 = FOR EACH ROW (1) | INSERT (4), AFTER.
    IF FOUND AND cur.tgfoid = fn_oid AND cur.tgtype = 5 AND cur.tgenabled = 'O'
       AND cur.tgnargs = 0 AND cur.unconditional THEN
        RETURN;
    END IF;
    IF FOUND THEN
        DROP TRIGGER dbos_notifications_trigger ON {{schema}}.notifications;
    END IF;
    CREATE TRIGGER dbos_notifications_trigger
        AFTER INSERT ON {{schema}}.notifications
        FOR EACH ROW EXECUTE FUNCTION {{schema}}.notifications_function();
END
$converge_trigger$;
