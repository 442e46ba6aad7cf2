package transfer.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import transfer.contracts.Json;

/**
 * The opaque {@code resumeData} of a canceled or failed download: which task's temporary object
 * holds how many durable bytes, and the validators they came with. It is only a pointer: a new task
 * given it is checked against the ledger (same tenant, the same checkpoint still recorded), so a
 * forged or stale one is refused rather than trusted.
 */
public record ResumeData(
    int v, String task, long epoch, long bytes, String etag, String lastModified) {
  static final int VERSION = 1;

  public String encode() {
    try {
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(Json.mapper().writeValueAsBytes(this));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Decodes {@code text}; IllegalArgumentException when it is not resume data of this version. */
  public static ResumeData decode(String text) {
    try {
      byte[] raw = Base64.getUrlDecoder().decode(text);
      ResumeData d =
          Json.mapper().readValue(new String(raw, StandardCharsets.UTF_8), ResumeData.class);
      if (d.v() != VERSION || d.task() == null || d.bytes() <= 0) {
        throw new IllegalArgumentException("not resume data of version " + VERSION);
      }
      return d;
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new IllegalArgumentException("is not resumeData produced by this cluster", e);
    }
  }
}
