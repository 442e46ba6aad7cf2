package transfer.client;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/** Parses a {@code Retry-After} header (RFC 9110, 10.2.3): delay-seconds or an HTTP-date. */
public final class RetryAfter {
  private RetryAfter() {}

  /**
   * The wait the header asks for, measured from {@code now}; a date in the past is zero. Empty when
   * the header is absent or is neither form (the caller then uses its own backoff).
   */
  public static Optional<Duration> parse(String header, Instant now) {
    if (header == null) {
      return Optional.empty();
    }
    String v = header.trim();
    if (v.isEmpty()) {
      return Optional.empty();
    }
    if (v.chars().allMatch(c -> c >= '0' && c <= '9')) {
      try {
        return Optional.of(Duration.ofSeconds(Long.parseLong(v)));
      } catch (NumberFormatException tooLong) {
        return Optional.of(Duration.ofSeconds(Long.MAX_VALUE / 1_000_000_000L));
      }
    }
    try {
      // IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 1123 is the same shape).
      Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      Duration d = Duration.between(now, at);
      return Optional.of(d.isNegative() ? Duration.ZERO : d);
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }
}
