package transfer.contracts;

import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The file name a {@code Content-Disposition} header suggests (RFC 6266): {@code filename*} (RFC
 * 8187, {@code UTF-8''name%20with%20spaces}) before {@code filename}, reduced to a bare name that
 * is safe to show and to send back: no directories, no control characters, at most 255 characters.
 */
public final class ContentDisposition {
  private static final Pattern EXTENDED =
      Pattern.compile("(?i)(?:^|;)\\s*filename\\*\\s*=\\s*([^';]+)'[^']*'([^;\\s]+)");
  private static final Pattern QUOTED =
      Pattern.compile("(?i)(?:^|;)\\s*filename\\s*=\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern TOKEN =
      Pattern.compile("(?i)(?:^|;)\\s*filename\\s*=\\s*([^;\\s\"]+)");

  private ContentDisposition() {}

  /** The suggested file name, or null when the header has none (or none that is usable). */
  public static String fileName(String header) {
    if (header == null || header.isBlank()) {
      return null;
    }
    Matcher m = EXTENDED.matcher(header);
    if (m.find()) {
      try {
        Charset cs = Charset.forName(m.group(1).trim().toUpperCase(Locale.ROOT));
        String decoded = URLDecoder.decode(m.group(2).replace("+", "%2B"), cs);
        String safe = safe(decoded);
        if (safe != null) {
          return safe;
        }
      } catch (IllegalArgumentException unknownCharsetOrBadEscape) {
        // fall back to filename=
      }
    }
    m = QUOTED.matcher(header);
    if (m.find()) {
      return safe(m.group(1).replaceAll("\\\\(.)", "$1"));
    }
    m = TOKEN.matcher(header);
    return m.find() ? safe(m.group(1)) : null;
  }

  private static String safe(String name) {
    String base = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
    StringBuilder s = new StringBuilder();
    base.codePoints()
        .filter(c -> !Character.isISOControl(c) && Character.getType(c) != Character.FORMAT)
        .forEach(s::appendCodePoint);
    String out = s.toString().strip();
    if (out.isEmpty() || out.equals(".") || out.equals("..")) {
      return null;
    }
    return out.length() > 255 ? out.substring(0, 255) : out;
  }

  /** A header value that offers {@code fileName} for saving: ASCII fallback and the UTF-8 form. */
  public static String attachment(String fileName) {
    StringBuilder ascii = new StringBuilder();
    for (char c : fileName.toCharArray()) {
      ascii.append(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '_');
    }
    String encoded =
        java.net.URLEncoder.encode(fileName, StandardCharsets.UTF_8).replace("+", "%20");
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
  }
}
