package transfer.worker.attempt;

import java.util.function.Function;

/**
 * What a download does with the answer to its request, judged before a byte of the body is written
 * (DESIGN.md, "Checkpoints and resume"). A pure function of what was asked and what came back:
 *
 * <ul>
 *   <li>{@link Continue}: a {@code 206} to {@code Range: bytes=N-} that starts exactly at N, is one
 *       range and keeps the ETag: the body continues the first N bytes.
 *   <li>{@link WholeBody}: any other {@code 2xx}: the body that follows is the whole object,
 *       written from zero (a restart, when a range was asked for: Range ignored, or {@code
 *       If-Range} found another version).
 *   <li>{@link AskAgain}: a {@code 206} starting elsewhere, a {@code multipart/byteranges} answer
 *       or a changed ETag: this answer is dropped and the whole body asked for again. Bytes of two
 *       versions are never mixed.
 *   <li>{@link NoBody}: any other status, or a {@code 206} to a request without Range: not a body
 *       ({@link Failures#ofStatus} says what it is).
 * </ul>
 */
sealed interface ResumeDecision {

  /** The body continues the stored prefix of {@code from} bytes; the object has {@code total}. */
  record Continue(long from, Long total) implements ResumeDecision {}

  /** The body is the whole object, of {@code total} bytes (null: not announced). */
  record WholeBody(Long total) implements ResumeDecision {}

  /** Drop this answer and ask for the whole body: the origin {@code why} to our Range. */
  record AskAgain(String why) implements ResumeDecision {}

  /** Not a body: an error status, judged as such. */
  record NoBody(int status) implements ResumeDecision {}

  /**
   * Judges an answer.
   *
   * @param askedFrom the N of the request's {@code Range: bytes=N-}; 0 when it had no Range
   * @param knownEtag the ETag of the version the stored prefix came from (null: none recorded)
   * @param status the answer's status
   * @param header the answer's header of a name ({@code Content-Range}, {@code Content-Type},
   *     {@code ETag}, {@code Content-Length}), or null
   */
  static ResumeDecision of(
      long askedFrom, String knownEtag, int status, Function<String, String> header) {
    if (askedFrom > 0 && status == 206) {
      return ranged(askedFrom, knownEtag, header);
    }
    if (status < 200 || status >= 300 || status == 206) {
      return new NoBody(status);
    }
    return new WholeBody(length(header.apply("Content-Length")));
  }

  private static ResumeDecision ranged(
      long from, String knownEtag, Function<String, String> header) {
    ContentRange range = ContentRange.parse(header.apply("Content-Range"));
    String type = header.apply("Content-Type");
    String etagNow = header.apply("ETag");
    if (type != null && type.toLowerCase().startsWith("multipart/byteranges")) {
      return new AskAgain("answered multipart/byteranges");
    }
    if (range == null || range.start() != from) {
      return new AskAgain("answered Content-Range " + header.apply("Content-Range"));
    }
    if (knownEtag != null && etagNow != null && !knownEtag.equals(etagNow)) {
      return new AskAgain("changed its ETag from " + knownEtag + " to " + etagNow);
    }
    if (range.total() != null) {
      return new Continue(from, range.total());
    }
    Long rest = length(header.apply("Content-Length"));
    return new Continue(from, rest == null ? null : from + rest);
  }

  /**
   * What {@code If-Range} may carry for a stored prefix: its strong ETag, else its Last-Modified;
   * null when there is neither (the prefix cannot be resumed).
   */
  static String validator(String etag, String lastModified) {
    if (etag != null && !etag.startsWith("W/")) {
      return etag;
    }
    return lastModified;
  }

  /** A Content-Length, or null when absent or not a number. */
  static Long length(String header) {
    try {
      return header == null ? null : Long.parseLong(header.trim());
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
