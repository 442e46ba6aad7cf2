package transfer.worker.attempt;

/** URLs as the worker may show them: in log lines and in a task's error. */
final class Urls {
  private Urls() {}

  /**
   * The URL for logs and task errors: without user info, query and fragment, any of which may carry
   * credentials.
   */
  static String redacted(String url) {
    if (url == null) {
      return "null";
    }
    String u = url;
    int cut = indexOfAny(u, '?', '#');
    String tail = cut < 0 ? "" : "?…";
    u = cut < 0 ? u : u.substring(0, cut);
    int scheme = u.indexOf("://");
    if (scheme >= 0) {
      int hostEnd = indexOfAny(u.substring(scheme + 3), '/');
      String authority =
          hostEnd < 0 ? u.substring(scheme + 3) : u.substring(scheme + 3, scheme + 3 + hostEnd);
      int at = authority.lastIndexOf('@');
      if (at >= 0) {
        u = u.substring(0, scheme + 3) + "…@" + u.substring(scheme + 3 + at + 1);
      }
    }
    return u + tail;
  }

  private static int indexOfAny(String s, char... chars) {
    int best = -1;
    for (char ch : chars) {
      int i = s.indexOf(ch);
      if (i >= 0 && (best < 0 || i < best)) {
        best = i;
      }
    }
    return best;
  }
}
