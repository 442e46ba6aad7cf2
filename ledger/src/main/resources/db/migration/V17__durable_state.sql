-- What the storage needs besides bytes, epoch and validators to continue a download's checkpoint
-- (on S3: the multipart upload's key and id, its part size and parts, and the SHA-256 state after
-- them). Opaque to the ledger; written with the checkpoint, replaced with it.
alter table tasks add column durable_state text;

-- As V13: a payload no query filters on has no statistics (StatisticsTargetsIT).
alter table tasks alter column durable_state set statistics 0;
