package transfer.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * What the other side answered (URLSession's {@code task.response}), kept with the task.
 *
 * <p>A download's: the status of the response whose body was stored (200, or 206 when it continued
 * a stored prefix), its {@code contentType}, {@code contentLength} (the whole object), the file
 * name its {@code Content-Disposition} suggests (a bare name: no directories), {@code etag}, {@code
 * lastModified}, and {@code finalUrl}, where the last redirect led.
 *
 * <p>An upload's: the target's status, its {@code headers} (names in lower case, {@code Set-Cookie}
 * left out) and the first {@value #MAX_BODY} bytes of its {@code body}: as text when they are UTF-8
 * ({@code bodyEncoding} {@code utf-8}), else base64 ({@code base64}); {@code bodyTruncated} when
 * there was more. A resumable upload's {@code finalUrl} is the resource its target created for it.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ReceivedResponse(
    int status,
    String contentType,
    Long contentLength,
    String fileName,
    String etag,
    String lastModified,
    String finalUrl,
    Map<String, List<String>> headers,
    String body,
    String bodyEncoding,
    Boolean bodyTruncated) {

  /** Most bytes of an upload's answer kept. */
  public static final int MAX_BODY = 64 * 1024;

  /** A download's response; {@code header} reads one of its headers (null when absent). */
  public static ReceivedResponse ofDownload(
      int status, Function<String, String> header, Long contentLength, String finalUrl) {
    return new ReceivedResponse(
        status,
        header.apply("Content-Type"),
        contentLength,
        ContentDisposition.fileName(header.apply("Content-Disposition")),
        header.apply("ETag"),
        header.apply("Last-Modified"),
        finalUrl,
        null,
        null,
        null,
        null);
  }

  /**
   * An upload target's answer: its headers (each name with its values, in any case), and the first
   * bytes of its body ({@code body}, at most {@link #MAX_BODY} of them) and whether there were
   * more.
   */
  public static ReceivedResponse ofUpload(
      int status, Iterable<Map.Entry<String, String>> headers, byte[] body, boolean truncated) {
    Map<String, List<String>> kept = new TreeMap<>();
    for (Map.Entry<String, String> h : headers) {
      String name = h.getKey().toLowerCase(Locale.ROOT);
      if (name.equals("set-cookie") || name.equals("set-cookie2")) {
        continue; // a session cookie of the target is a credential of the cluster's, not data
      }
      kept.computeIfAbsent(name, k -> new java.util.ArrayList<>()).add(h.getValue());
    }
    String text = null;
    String encoding = null;
    if (body != null && body.length > 0) {
      text = utf8(body);
      encoding = "utf-8";
      if (text == null) {
        text = Base64.getEncoder().encodeToString(body);
        encoding = "base64";
      }
    }
    return new ReceivedResponse(
        status, null, null, null, null, null, null, kept, text, encoding, truncated ? true : null);
  }

  /** This answer with {@code finalUrl}: where the bytes finally went. */
  public ReceivedResponse withFinalUrl(String url) {
    return new ReceivedResponse(
        status,
        contentType,
        contentLength,
        fileName,
        etag,
        lastModified,
        url,
        headers,
        body,
        bodyEncoding,
        bodyTruncated);
  }

  private static String utf8(byte[] bytes) {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
