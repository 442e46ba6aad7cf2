package transfer.api.quota;

import transfer.api.ApiConfig;
import transfer.ledger.QuotaOverrides;

/**
 * The quotas that apply to one tenant: its own values where it has them, else the defaults.
 *
 * @param tasksInFlight most tasks not final (queued, waiting, running, suspended) at once
 * @param bytesStored most bytes in storage: staged objects and completed downloads
 * @param requestsPerSecond sustained requests per second, per API instance
 * @param burst requests at once above the sustained rate, per API instance
 * @param runningTransfers most transfers running at once across the cluster; null: no cap but the
 *     tenant's fair share of the workers (the default)
 */
public record Limits(
    long tasksInFlight,
    long bytesStored,
    double requestsPerSecond,
    int burst,
    Integer runningTransfers) {

  /** The configured defaults ({@code transfer.quota.*}). */
  public static Limits defaults(ApiConfig.Quota config) {
    return new Limits(
        config.tasksInFlight(),
        config.bytesStored().asLongValue(),
        config.requestsPerSecond(),
        config.burst(),
        null);
  }

  /** These limits with a tenant's own values in place of the ones it has. */
  public Limits with(QuotaOverrides own) {
    if (own == null) {
      return this;
    }
    return new Limits(
        own.tasksInFlight() != null ? own.tasksInFlight() : tasksInFlight,
        own.bytesStored() != null ? own.bytesStored() : bytesStored,
        own.requestsPerSecond() != null ? own.requestsPerSecond() : requestsPerSecond,
        own.burst() != null ? own.burst() : burst,
        own.runningTransfers() != null ? own.runningTransfers() : runningTransfers);
  }
}
