package transfer.worker.attempt;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Set;
import transfer.contracts.ErrorCodes;
import transfer.contracts.TaskError;
import transfer.egress.Destination;

/**
 * Whether a download follows a redirect, and where to: a pure function of the answer, the URL of
 * the hop it answered, how many hops came before and the limit ({@code
 * transfer.worker.max-redirects}). Each hop the download follows goes through the {@link Egress}
 * guard again; the caller's headers go along only to the task's own origin ({@link
 * #carriesCallerHeaders}). Uploads follow none (DESIGN.md, "Uploads").
 */
sealed interface RedirectDecision {
  /** The statuses that redirect, when they carry a {@code Location}. */
  Set<Integer> REDIRECTS = Set.of(301, 302, 303, 307, 308);

  /** Not a redirect: the answer is judged as it is. */
  NotARedirect NONE = new NotARedirect();

  /** Not a redirect. */
  record NotARedirect() implements RedirectDecision {}

  /** Ask {@code url} next: hop number {@code hop} (the task's URL is hop 0). */
  record Follow(String url, int hop) implements RedirectDecision {}

  /** A redirect that is not followed: the attempt fails with {@code error} (final). */
  record Refuse(TaskError error) implements RedirectDecision {}

  /**
   * Judges an answer of status {@code status} with {@code Location: location} to a request for
   * {@code hopUrl}, hop number {@code hop}. The next URL is resolved against {@code hopUrl}; its
   * fragment is the client's and is never sent.
   */
  static RedirectDecision of(
      int status, String location, String hopUrl, int hop, int maxRedirects) {
    if (!REDIRECTS.contains(status) || location == null) {
      return NONE;
    }
    if (hop >= maxRedirects) {
      return new Refuse(
          TaskError.of(
              ErrorCodes.TOO_MANY_REDIRECTS,
              "more than "
                  + maxRedirects
                  + " redirects (transfer.worker.max-redirects); the last went to "
                  + Urls.redacted(location),
              false));
    }
    String next;
    try {
      next = new URI(hopUrl).resolve(new URI(location)).toString();
      int hash = next.indexOf('#');
      next = hash < 0 ? next : next.substring(0, hash);
    } catch (URISyntaxException | IllegalArgumentException e) {
      return new Refuse(
          TaskError.of(
              ErrorCodes.BLOCKED_DESTINATION,
              "the origin redirected to '"
                  + Urls.redacted(location)
                  + "', which is not a valid URL",
              false));
    }
    return new Follow(next, hop + 1);
  }

  /**
   * Whether a request to {@code hopUrl} carries the caller's headers (the session's and the
   * task's), which were given for the task's URL: only on that URL's origin. Any of them may be a
   * credential (Authorization, Cookie, X-Api-Key, a signed token), so a redirect to another origin
   * gets none of them (curl drops only some, without --location-trusted).
   */
  static boolean carriesCallerHeaders(String taskUrl, String hopUrl) {
    if (hopUrl.equals(taskUrl)) {
      return true;
    }
    try {
      return Destination.of(hopUrl).sameOrigin(Destination.of(taskUrl));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
