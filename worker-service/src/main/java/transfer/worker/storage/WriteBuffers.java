package transfer.worker.storage;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * The worker's pool of aligned direct buffers that bodies are gathered in before they are written
 * (see {@link ObjectWriter}). Sizes are powers of four from {@link #MIN_SIZE} up to a largest size;
 * a transfer asks for a larger size only while its bytes come fast, so a slow transfer holds one
 * small buffer and a thousand of them stay small.
 *
 * <p>Every buffer above the smallest size counts against one budget for the whole worker: when it
 * is spent, a transfer gets the largest size that still fits, down to the smallest, which is always
 * granted (so no transfer waits for another to finish). Released buffers are kept for reuse within
 * the budget: direct memory is freed only by the garbage collector, and allocating it at the rate
 * of a fast download would make the JVM collect (or fail) to get it back.
 *
 * <p>Thread-safe: buffers are taken on event loops and given back on storage threads.
 */
public final class WriteBuffers {
  /** The smallest buffer, what a slow transfer holds. */
  public static final int MIN_SIZE = 16 * 1024;

  /** Small buffers kept for reuse (they are not counted in the budget). */
  private static final int MAX_CACHED_SMALL = 64;

  private final int align;
  private final int[] sizes;
  private final long budget;
  private final ArrayDeque<ByteBuffer>[] free;

  /** Bytes of buffers above the smallest size, handed out or kept for reuse. */
  private long committed;

  /**
   * @param maxSize the largest buffer (rounded down to a power of four times {@link #MIN_SIZE})
   * @param budget bytes all buffers above the smallest size may take together
   * @param align the address alignment of every buffer (a power of two, at most {@link #MIN_SIZE})
   */
  @SuppressWarnings("unchecked")
  public WriteBuffers(long maxSize, long budget, int align) {
    if (Integer.bitCount(align) != 1 || align > MIN_SIZE) {
      throw new IllegalArgumentException("alignment " + align + " is no power of two <= 16 KiB");
    }
    int n = 1;
    for (long s = (long) MIN_SIZE * 4; s <= maxSize && s <= (1 << 28); s *= 4) {
      n++;
    }
    this.sizes = new int[n];
    for (int i = 0; i < n; i++) {
      sizes[i] = MIN_SIZE << (2 * i);
    }
    this.align = align;
    this.budget = budget;
    this.free = new ArrayDeque[n];
    for (int i = 0; i < n; i++) {
      free[i] = new ArrayDeque<>();
    }
  }

  /** The number of sizes; size class {@code sizes() - 1} is the largest. */
  public int classes() {
    return sizes.length;
  }

  public int size(int sizeClass) {
    return sizes[sizeClass];
  }

  public int alignment() {
    return align;
  }

  /**
   * A cleared buffer of size class {@code wanted} or, when the budget does not allow it, of the
   * largest class that fits (the smallest at worst). Its capacity tells which one it is.
   */
  public ByteBuffer acquire(int wanted) {
    int c = Math.max(0, Math.min(wanted, sizes.length - 1));
    synchronized (this) {
      for (; c > 0; c--) {
        ByteBuffer b = free[c].pollFirst();
        if (b != null) {
          return b.clear();
        }
        if (committed + sizes[c] > budget) {
          evictOthers(c, committed + sizes[c] - budget);
        }
        if (committed + sizes[c] <= budget) {
          committed += sizes[c];
          break;
        }
      }
      if (c == 0) {
        ByteBuffer b = free[0].pollFirst();
        if (b != null) {
          return b.clear();
        }
      }
    }
    return allocate(sizes[c]);
  }

  /** Gives a buffer back; it must not be used any more. */
  public void release(ByteBuffer b) {
    int c = classOf(b.capacity());
    if (c < 0) {
      return;
    }
    synchronized (this) {
      if (c > 0 || free[0].size() < MAX_CACHED_SMALL) {
        free[c].addFirst(b);
      }
    }
  }

  /**
   * Gives up a buffer that something else may still read (a socket): it leaves the budget but is
   * never handed out again; the garbage collector frees it once nothing refers to it.
   */
  public void discard(ByteBuffer b) {
    int c = classOf(b.capacity());
    if (c > 0) {
      synchronized (this) {
        committed -= sizes[c];
      }
    }
  }

  /** Bytes of buffers above the smallest size, in use or kept (for tests and logs). */
  public synchronized long committed() {
    return committed;
  }

  /** Drops kept buffers of other classes than {@code keep} until {@code bytes} are free, if can. */
  private void evictOthers(int keep, long bytes) {
    for (int c = sizes.length - 1; c > 0 && bytes > 0; c--) {
      while (c != keep && bytes > 0 && free[c].pollFirst() != null) {
        committed -= sizes[c];
        bytes -= sizes[c];
      }
    }
  }

  private int classOf(int capacity) {
    for (int i = 0; i < sizes.length; i++) {
      if (sizes[i] == capacity) {
        return i;
      }
    }
    return -1;
  }

  private ByteBuffer allocate(int size) {
    return ByteBuffer.allocateDirect(size + align - 1).alignedSlice(align).limit(size).slice();
  }
}
