package transfer.api.quota;

import jakarta.ws.rs.core.Response;
import java.time.Duration;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem;

/**
 * A tenant is past one of its quotas: 429 with a {@code Retry-After} (seconds) and the problem type
 * {@code urn:transfer:problem:quota-exceeded:<quota>}, the quota's name and limit in the detail.
 * Nothing of the refused request was stored.
 */
public final class QuotaExceeded extends ApiException {
  public static final String TYPE_PREFIX = Problem.typeUri("quota-exceeded:");
  public static final String TASKS_IN_FLIGHT = "tasks-in-flight";
  public static final String BYTES_STORED = "bytes-stored";
  public static final String REQUEST_RATE = "request-rate";
  public static final String KEY_LOOKUPS = "key-lookups";
  public static final String EVENT_STREAMS = "event-streams";
  public static final String UPLOADS = "uploads";

  private final String quota;
  private final long retryAfterSeconds;

  private QuotaExceeded(String quota, String detail, long retryAfterSeconds) {
    super(429, "quota-exceeded:" + quota, "Too Many Requests", detail);
    this.quota = quota;
    this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
  }

  static QuotaExceeded tasksInFlight(String tenantId, long limit, Duration retryAfter) {
    return new QuotaExceeded(
        TASKS_IN_FLIGHT,
        "tenant "
            + tenantId
            + " is at its tasks-in-flight quota (limit "
            + limit
            + " tasks queued, waiting, running or suspended); retry when some have finished,"
            + " or cancel some",
        retryAfter.toSeconds());
  }

  static QuotaExceeded bytesStored(String tenantId, long limit, Duration retryAfter) {
    return new QuotaExceeded(
        BYTES_STORED,
        "tenant "
            + tenantId
            + " would hold more than its bytes-stored quota (limit "
            + limit
            + " bytes: staged objects and completed downloads); delete objects or wait for"
            + " retention, then retry",
        retryAfter.toSeconds());
  }

  static QuotaExceeded requestRate(String tenantId, double rate, int burst, long waitNanos) {
    return new QuotaExceeded(
        REQUEST_RATE,
        "tenant "
            + tenantId
            + " exceeded its request-rate quota (limit "
            + format(rate)
            + " requests per second, burst "
            + burst
            + ")",
        (waitNanos + 999_999_999L) / 1_000_000_000L);
  }

  static QuotaExceeded eventStreams(String tenantId, int limit) {
    return new QuotaExceeded(
        EVENT_STREAMS,
        "tenant "
            + tenantId
            + " holds as many event streams open on this server as its quota allows (limit "
            + limit
            + "); close one, or read several sessions' events from the Kafka topic",
        5);
  }

  static QuotaExceeded uploads(String tenantId, int limit) {
    return new QuotaExceeded(
        UPLOADS,
        "tenant "
            + tenantId
            + " has as many object uploads in progress on this server as its quota allows (limit "
            + limit
            + "); retry when one has ended",
        5);
  }

  static QuotaExceeded keyLookups(String address, double rate, int burst, long waitNanos) {
    return new QuotaExceeded(
        KEY_LOOKUPS,
        "too many API keys this server has not seen lately from "
            + address
            + " (limit "
            + format(rate)
            + " per second, burst "
            + burst
            + "); send a valid key, and retry after the time given",
        (waitNanos + 999_999_999L) / 1_000_000_000L);
  }

  private static String format(double rate) {
    return rate == Math.rint(rate) ? Long.toString((long) rate) : Double.toString(rate);
  }

  /** Which quota: {@link #TASKS_IN_FLIGHT}, {@link #BYTES_STORED} or {@link #REQUEST_RATE}. */
  public String quota() {
    return quota;
  }

  public long retryAfterSeconds() {
    return retryAfterSeconds;
  }

  /** The 429 answer, problem+json with its Retry-After. */
  @Override
  public Response toResponse(String instance) {
    return Response.status(429)
        .type(Problem.MEDIA_TYPE)
        .header("Retry-After", Long.toString(retryAfterSeconds))
        .entity(toProblem(instance))
        .build();
  }
}
