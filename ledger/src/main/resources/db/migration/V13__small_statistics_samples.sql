-- Analyzing the busy tables samples 3,000 rows, not 30,000, and skips the payload columns.
--
-- ANALYZE samples 300 rows per unit of the largest statistics target of a table's columns (100 by
-- default: 30,000 rows), and builds statistics for every column: for the JSON payloads that means
-- sorting and comparing 30,000 documents. The API's reaper analyzes `tasks` after every 2,000
-- changed rows (ledger/DESIGN.md, "Fresh statistics"), several times a minute under load, and
-- autovacuum analyzes the event tables as they grow: with 14,000 tasks and 42,000 events kept,
-- `analyze tasks` took 350 ms and `analyze events` 600 ms (a quarter of PostgreSQL's CPU under the
-- small-files load); with these targets 20 to 60 ms each. The plans that matter read the queue by
-- state, session and host, a handful of values each, which 3,000 sampled rows estimate as well.
--
-- A column added to these tables later gets the server's default target again, and with it the
-- large sample: give it one too (StatisticsTargetsIT checks that every column has one).
do $$
declare
  col record;
begin
  for col in
    select c.relname, a.attname
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
     where c.relnamespace = current_schema()::regnamespace
       and c.relname in ('tasks', 'events', 'event_numbers')
       and a.attnum > 0 and not a.attisdropped
  loop
    execute format('alter table %I alter column %I set statistics %s', col.relname, col.attname,
      -- Payloads no query filters on: no statistics at all.
      case when col.attname in ('request', 'error', 'data', 'resume_data', 'traceparent', 'tracestate')
           then 0 else 10 end);
  end loop;
end
$$;
