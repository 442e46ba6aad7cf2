package transfer.api.quota;

import java.io.IOException;

/**
 * How large a body being received may grow within its tenant's quota: asked before the body is read
 * (with its declared length, or 0) and again whenever it would pass what was allowed so far
 * (blocking; it may ask the ledger). {@link ObjectRoom} is the one an object PUT gets.
 */
@FunctionalInterface
public interface BodyRoom {
  /** The bytes the body may have, now that it needs {@code needed}; fewer: it is cut there. */
  long allow(long needed) throws IOException;
}
