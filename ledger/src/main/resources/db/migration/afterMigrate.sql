-- After every migration (Flyway's afterMigrate callback): the workers' database role, when it
-- exists, may read and write the rows of every table and use every sequence of the ledger, and
-- nothing else: no DDL, no ownership, no rewriting of the migration history. The schema's owner
-- (the api-service's role) runs the migrations; the workers run with them off (README,
-- "Kubernetes"). Whoever runs PostgreSQL creates the role; its name is transfer.db.worker-role
-- (transfer_worker by default). Run after every migration, so a table a later version adds is
-- granted too, and a role created after the last migration gets its rights at the next start.
do $grant$
begin
  if exists (select from pg_roles where rolname = '${workerRole}') then
    execute format('grant usage on schema %I to %I', current_schema(), '${workerRole}');
    execute format('grant select, insert, update, delete on all tables in schema %I to %I',
                   current_schema(), '${workerRole}');
    execute format('grant usage, select, update on all sequences in schema %I to %I',
                   current_schema(), '${workerRole}');
    if to_regclass(format('%I.flyway_schema_history', current_schema())) is not null then
      execute format('revoke insert, update, delete on %I.flyway_schema_history from %I',
                     current_schema(), '${workerRole}');
    end if;
  end if;
end
$grant$;

-- The autoscaler's database role (transfer.db.scaler-role, transfer_scaler by default), when it
-- exists, may read the state of tasks and nothing else: KEDA's PostgreSQL trigger counts the
-- transfers running or ready to run (k8s/base/worker-scaling.yaml). No URL, header, secret or row
-- of any other table is readable to it.
do $grant$
begin
  if exists (select from pg_roles where rolname = '${scalerRole}') then
    execute format('grant usage on schema %I to %I', current_schema(), '${scalerRole}');
    execute format('grant select (state) on %I.tasks to %I', current_schema(), '${scalerRole}');
  end if;
end
$grant$;
