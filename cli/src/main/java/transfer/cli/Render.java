package transfer.cli;

import java.time.Duration;
import java.util.Locale;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;

/**
 * Text for people: sizes, rates, progress bars and the hint after a failure. Pure functions, so a
 * unit test pins every shape the terminal shows.
 */
final class Render {
  private Render() {}

  private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

  /** 0 B, 1023 B, 1.0 KiB, 12.3 MiB: binary units, one decimal above bytes. */
  static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    double v = n;
    int unit = 0;
    while (v >= 1024 && unit < UNITS.length - 1) {
      v /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, UNITS[unit]);
  }

  static String rate(double bytesPerSecond) {
    return bytes(Math.round(Math.max(0, bytesPerSecond))) + "/s";
  }

  /** 0.4 s, 12 s, 3m05s, 2h01m. */
  static String duration(Duration d) {
    long ms = Math.max(0, d.toMillis());
    if (ms < 10_000) {
      return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }
    long s = ms / 1000;
    if (s < 60) {
      return s + " s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }

  /**
   * {@code [#########> ]} for a known fraction; for an unknown total a three-cell block that moves
   * with {@code tick}, so a download without a length still shows it is alive.
   */
  static String bar(int width, Double fraction, long tick) {
    StringBuilder b = new StringBuilder(width + 2).append('[');
    if (fraction == null) {
      int pos = (int) (Math.floorMod(tick, Math.max(1, 2 * (width - 3))));
      if (pos > width - 3) {
        pos = 2 * (width - 3) - pos;
      }
      for (int i = 0; i < width; i++) {
        b.append(i >= pos && i < pos + 3 ? '=' : ' ');
      }
    } else {
      double f = Math.min(1, Math.max(0, fraction));
      int full = (int) Math.floor(f * width);
      for (int i = 0; i < width; i++) {
        b.append(i < full ? '#' : (i == full && f < 1 ? '>' : ' '));
      }
    }
    return b.append(']').toString();
  }

  /**
   * One task's line: {@code label [####> ] 45% 12.3 MiB / 27.0 MiB 4.1 MiB/s ETA 4.0 s}. Cut to
   * {@code columns} so a narrow terminal never wraps (a wrapped line breaks the redraw).
   */
  static String progressLine(
      String label,
      String state,
      long done,
      Long expected,
      double bytesPerSecond,
      long tick,
      int columns) {
    Double fraction = expected != null && expected > 0 ? (double) done / expected : null;
    StringBuilder s = new StringBuilder();
    s.append(label).append(' ');
    if (!"running".equals(state)) {
      s.append(state).append(' ');
    }
    s.append(bar(24, fraction, tick));
    if (fraction != null) {
      s.append(String.format(Locale.ROOT, " %3d%%", (int) Math.floor(Math.min(1, fraction) * 100)));
      s.append("  ").append(bytes(done)).append(" / ").append(bytes(expected));
    } else {
      s.append("  ").append(bytes(done));
    }
    if (bytesPerSecond > 0) {
      s.append("  ").append(rate(bytesPerSecond));
      if (fraction != null && expected > done) {
        double seconds = (expected - done) / bytesPerSecond;
        s.append("  ETA ").append(duration(Duration.ofMillis((long) (seconds * 1000))));
      }
    }
    return fit(s.toString(), columns);
  }

  static String fit(String line, int columns) {
    if (columns <= 0 || line.length() <= columns) {
      return line;
    }
    return columns <= 1 ? line.substring(0, columns) : line.substring(0, columns - 1) + "…";
  }

  /** What a person can do about a failed task, by its stable error code. */
  static String hint(TaskError error) {
    if (error == null || error.code() == null) {
      return "see the task's error for details";
    }
    String code = error.code();
    switch (code) {
      case ErrorCodes.HTTP_STATUS:
        Integer st = error.httpStatus();
        if (st != null && (st == 401 || st == 403)) {
          return "the origin refused access; check the URL and any credentials in --header";
        }
        if (st != null && st == 404) {
          return "the origin has no such file; check the URL";
        }
        return error.retryable()
            ? "the origin failed; it may recover, submit the task again later"
            : "the origin refused the request; check the URL and headers";
      case ErrorCodes.CONNECTION_FAILED:
        return "the origin could not be reached; check the host name and that it is up";
      case ErrorCodes.STALLED:
        return "the origin stopped sending; try again, or raise the session's requestTimeout";
      case ErrorCodes.CREDENTIALS_REQUIRED:
        return "the origin refused the credentials and none came before the deadline; next"
            + " time answer the challenge with ./transfer patch TASK --url or -H, or submit the"
            + " task again with a fresh URL or --header";
      case ErrorCodes.RESOURCE_TIMEOUT:
        return "the task ran out of time; raise the session's resourceTimeout or try again";
      case ErrorCodes.TOO_MANY_REDIRECTS:
        return "the origin redirects in a loop; check the URL";
      case ErrorCodes.CHECKSUM_MISMATCH:
        return "the bytes did not match --sha256; check the digest or the origin's file";
      case ErrorCodes.SIZE_LIMIT_EXCEEDED:
        return "the body was larger than the expected size; check --expected-bytes";
      case ErrorCodes.BLOCKED_DESTINATION:
        return "the cluster may not reach that address (egress rules); ask its operator to allow"
            + " it in transfer.fetch.allowed-destinations";
      case ErrorCodes.SOURCE_CHANGED:
        return "the file changed at the origin between attempts; submit the task again";
      case ErrorCodes.STORAGE_FAILED:
        return "the cluster could not store the bytes; tell its operator (storage full?)";
      case ErrorCodes.ATTEMPTS_EXHAUSTED:
        return "every retry failed; see the message above, then submit the task again";
      case ErrorCodes.CANCELED:
        return "it was canceled; submit it again to start over";
      case ErrorCodes.SOURCE_MISSING:
        return "the upload's source is gone from storage; stage the file again";
      default:
        return error.retryable() ? "it may succeed if submitted again" : "see the error message";
    }
  }
}
