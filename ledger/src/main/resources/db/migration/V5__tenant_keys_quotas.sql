-- Tenants managed through the admin API: several revocable keys each, and per-tenant quotas.

-- A tenant's own quotas; null means the service's default (transfer.quota.*).
alter table tenants add column quota_tasks_in_flight bigint
  constraint quota_tasks_in_flight_range check (quota_tasks_in_flight >= 0);
alter table tenants add column quota_bytes_stored bigint
  constraint quota_bytes_stored_range check (quota_bytes_stored >= 0);
alter table tenants add column quota_requests_per_second double precision
  constraint quota_requests_per_second_range check (quota_requests_per_second > 0);
alter table tenants add column quota_burst integer
  constraint quota_burst_range check (quota_burst >= 1);

-- A tenant's keys (admin API: GET /v1/admin/tenants/{tenant}, revocation by key id).
create index api_keys_by_tenant on api_keys (tenant_id, created_at);

-- Tasks in flight per tenant, counted (bounded by the quota) at every submit.
create index tasks_open_by_tenant on tasks (tenant_id)
  where state in ('queued', 'waiting', 'running', 'suspended');

-- Bytes stored per tenant: completed downloads until retention removes them, and staged objects.
-- Both sums are index-only scans.
create index tasks_stored_by_tenant on tasks (tenant_id) include (bytes_transferred)
  where state = 'completed' and type = 'download';
create index objects_size_by_tenant on objects (tenant_id) include (size);
