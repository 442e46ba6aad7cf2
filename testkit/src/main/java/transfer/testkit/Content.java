package transfer.testkit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The bytes the origin serves: a pure function of (seed, version, offset), independent of the
 * announced size, so that any body is a prefix of every longer body with the same seed and version
 * and any range can be produced without producing what precedes it.
 *
 * <p>Content is made of 64 KiB blocks, each filled by a SplitMix64 sequence whose starting state is
 * derived from (seed, version, block index). SplitMix64 is a handful of multiplies and shifts per 8
 * bytes, so one core produces several GB/s: generation is never the bottleneck of a transfer test.
 */
final class Content {
  static final int BLOCK = 64 * 1024;

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;
  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private Content() {}

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Fills {@code dst[0, BLOCK)} with block {@code blockIndex}. */
  static void fillBlock(byte[] dst, long seed, int version, long blockIndex) {
    long state = mix(mix(seed + GOLDEN * version) ^ (blockIndex * 0xD1B54A32D192ED03L));
    for (int i = 0; i < BLOCK; i += 8) {
      state += GOLDEN;
      LONGS.set(dst, i, mix(state));
    }
  }

  /** Copies content bytes {@code [offset, offset + length)} into {@code dst} at {@code dstPos}. */
  static void fill(byte[] dst, int dstPos, long seed, int version, long offset, int length) {
    byte[] block = new byte[BLOCK];
    long pos = offset;
    long end = offset + length;
    while (pos < end) {
      long blockIndex = pos / BLOCK;
      int inBlock = (int) (pos % BLOCK);
      int n = (int) Math.min(BLOCK - inBlock, end - pos);
      fillBlock(block, seed, version, blockIndex);
      System.arraycopy(block, inBlock, dst, dstPos + (int) (pos - offset), n);
      pos += n;
    }
  }

  /** Sequential reader of {@code [from, to)} handing out pieces that never cross a block edge. */
  static final class Cursor {
    private final long seed;
    private final int version;
    private long position;
    private final long end;
    // Cached block for partial pieces (throttled responses ask for small pieces).
    private byte[] block;
    private long blockIndex = -1;

    Cursor(long seed, int version, long from, long to) {
      this.seed = seed;
      this.version = version;
      this.position = from;
      this.end = to;
    }

    long remaining() {
      return end - position;
    }

    /**
     * The next piece of at most {@code max} bytes. Always a fresh array: the caller hands it to
     * Netty, which keeps a reference until the bytes reach the socket.
     */
    byte[] next(int max) {
      long index = position / BLOCK;
      int inBlock = (int) (position % BLOCK);
      int n = (int) Math.min(Math.min(BLOCK - inBlock, end - position), max);
      byte[] piece = new byte[n];
      if (inBlock == 0 && n == BLOCK) {
        fillBlock(piece, seed, version, index);
      } else {
        if (blockIndex != index) {
          if (block == null) {
            block = new byte[BLOCK];
          }
          fillBlock(block, seed, version, index);
          blockIndex = index;
        }
        System.arraycopy(block, inBlock, piece, 0, n);
      }
      position += n;
      return piece;
    }
  }
}
