package transfer.ledger;

/**
 * A tenant's own quotas (columns {@code quota_*} of {@code tenants}); a null field means the
 * service's default applies. Also the JSON of the admin API's {@code quotas}.
 *
 * @param tasksInFlight most tasks not final (queued, waiting, running, suspended) at once
 * @param bytesStored most bytes held in storage: staged objects and completed downloads
 * @param requestsPerSecond sustained API requests per second, per API instance
 * @param burst requests allowed at once above the sustained rate, per API instance
 * @param runningTransfers most transfers running at once across the cluster (the default: no cap
 *     but the tenant's fair share of the workers)
 */
public record QuotaOverrides(
    Long tasksInFlight,
    Long bytesStored,
    Double requestsPerSecond,
    Integer burst,
    Integer runningTransfers) {

  public static final QuotaOverrides NONE = new QuotaOverrides(null, null, null, null, null);
}
