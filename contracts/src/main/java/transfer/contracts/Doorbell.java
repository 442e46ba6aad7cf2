package transfer.contracts;

/**
 * The message on {@link Topics#TASKS}: only a pointer into the ledger. A worker that receives it
 * claims the task in PostgreSQL; a duplicate or stale doorbell simply fails to claim.
 */
public record Doorbell(String taskId, String sessionId) {}
