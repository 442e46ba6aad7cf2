package transfer.worker.attempt;

/** A parsed {@code Content-Range: bytes start-end/total} header; {@code total} null for '*'. */
record ContentRange(long start, long end, Long total) {

  static ContentRange parse(String header) {
    if (header == null) {
      return null;
    }
    String h = header.trim();
    if (!h.regionMatches(true, 0, "bytes ", 0, 6)) {
      return null;
    }
    try {
      String spec = h.substring(6).trim();
      int slash = spec.indexOf('/');
      int dash = spec.indexOf('-');
      if (slash < 0 || dash < 0 || dash > slash) {
        return null;
      }
      long start = Long.parseLong(spec.substring(0, dash).trim());
      long end = Long.parseLong(spec.substring(dash + 1, slash).trim());
      String t = spec.substring(slash + 1).trim();
      Long total = t.equals("*") ? null : Long.parseLong(t);
      if (start < 0 || end < start || (total != null && end >= total)) {
        return null;
      }
      return new ContentRange(start, end, total);
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
