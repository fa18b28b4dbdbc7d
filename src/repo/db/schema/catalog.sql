-- Deterministic description of a DBOS system schema, one text row per catalog item.
--
-- Used to prove that `dbosd migrate` (converge.sql) produces exactly the schema that Python
-- dbos 3.4.0 creates (migration version 125): run this query against both databases and compare
-- the row lists; they must be identical.
--
-- Placeholder: {{schema}} is replaced with the double-quoted schema identifier (e.g. "dbos"),
-- the same substitution as converge.sql. Here it appears only inside the dollar-quoted string
-- $s${{schema}}$s$, which to_regnamespace() parses as an identifier, so the quoting is honoured
-- and no escaping of single quotes is needed. A missing schema yields zero rows.
--
-- Read-only; one column `item`, sorted with the "C" collation so the order never depends on the
-- database's locale.
--
-- Columns are listed by (table, column name), not by attnum: a schema upgraded from an older DBOS
-- version may have a different physical column order (or dropped-column gaps) than a freshly
-- created one, and that difference is not a schema difference for DBOS.
--
-- Function bodies are deliberately NOT included (dbosd installs its own bodies); signatures,
-- defaults, result type, language, security, volatility and SET options are.
--
-- pg_get_indexdef/pg_get_constraintdef/pg_get_triggerdef qualify names relative to the session's
-- search_path, so compare catalogs taken under the same search_path.
WITH ns AS (
    SELECT to_regnamespace($s${{schema}}$s$) AS oid
),
rels AS (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions
    FROM pg_catalog.pg_class c
    JOIN ns ON c.relnamespace = ns.oid
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
),
items AS (
    SELECT pg_catalog.format('schema|%s', n.nspname) AS item
    FROM pg_catalog.pg_namespace n
    JOIN ns ON n.oid = ns.oid

    UNION ALL
    SELECT pg_catalog.format('relation|%s|kind=%s|persistence=%s|options=%s',
                             r.relname, r.relkind, r.relpersistence,
                             COALESCE(pg_catalog.array_to_string(r.reloptions, ','), ''))
    FROM rels r

    UNION ALL
    SELECT pg_catalog.format('column|%s|%s|type=%s|notnull=%s|default=%s|identity=%s|generated=%s|collation=%s',
                             r.relname, a.attname,
                             pg_catalog.format_type(a.atttypid, a.atttypmod),
                             a.attnotnull,
                             COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''),
                             a.attidentity, a.attgenerated,
                             COALESCE(co.collname, ''))
    FROM rels r
    JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    LEFT JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
    LEFT JOIN pg_catalog.pg_collation co
           ON co.oid = a.attcollation AND a.attcollation <> ty.typcollation
    WHERE r.relkind <> 'S'

    UNION ALL
    SELECT pg_catalog.format('index|%s|%s|valid=%s|%s',
                             r.relname, i.relname, x.indisvalid,
                             pg_catalog.pg_get_indexdef(x.indexrelid))
    FROM rels r
    JOIN pg_catalog.pg_index x ON x.indrelid = r.oid
    JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid

    UNION ALL
    SELECT pg_catalog.format('constraint|%s|%s|type=%s|%s',
                             r.relname, con.conname, con.contype,
                             pg_catalog.pg_get_constraintdef(con.oid))
    FROM rels r
    JOIN pg_catalog.pg_constraint con ON con.conrelid = r.oid

    UNION ALL
    SELECT pg_catalog.format('trigger|%s|%s|enabled=%s|%s',
                             r.relname, tg.tgname, tg.tgenabled,
                             pg_catalog.pg_get_triggerdef(tg.oid))
    FROM rels r
    JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = r.oid AND NOT tg.tgisinternal

    UNION ALL
    SELECT pg_catalog.format('function|%s(%s)|kind=%s|args=%s|returns=%s|language=%s|security_definer=%s|volatility=%s|strict=%s|parallel=%s|leakproof=%s|config=%s',
                             p.proname,
                             pg_catalog.pg_get_function_identity_arguments(p.oid),
                             p.prokind,
                             pg_catalog.pg_get_function_arguments(p.oid),
                             COALESCE(pg_catalog.pg_get_function_result(p.oid), ''),
                             l.lanname, p.prosecdef, p.provolatile, p.proisstrict,
                             p.proparallel, p.proleakproof,
                             COALESCE(pg_catalog.array_to_string(p.proconfig, ';'), ''))
    FROM pg_catalog.pg_proc p
    JOIN ns ON p.pronamespace = ns.oid
    JOIN pg_catalog.pg_language l ON l.oid = p.prolang

    UNION ALL
    -- Free-standing types (enums, domains, ranges); row types of tables are covered above.
    SELECT pg_catalog.format('type|%s|typtype=%s', t.typname, t.typtype)
    FROM pg_catalog.pg_type t
    JOIN ns ON t.typnamespace = ns.oid
    WHERE t.typrelid = 0 AND t.typcategory <> 'A'
)
SELECT item FROM items ORDER BY item COLLATE "C"
