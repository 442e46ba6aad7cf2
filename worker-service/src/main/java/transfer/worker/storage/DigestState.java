package transfer.worker.storage;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Base64;
import org.jboss.logging.Logger;

/**
 * Saves and restores the state of the JDK's SHA-256 between whole blocks, so that a download into
 * S3 continues its digest on another worker from the parts already uploaded (they cannot be read
 * back while the multipart upload is open). Go's {@code crypto/sha256} offers this as {@code
 * MarshalBinary}, which tusd's S3 store relies on; the JDK has no API for it, so this reads the
 * eight state words and the byte count of {@code sun.security.provider.SHA2} by reflection. That
 * needs {@code java.base/java.security} and {@code java.base/sun.security.provider} opened to the
 * application ({@code --add-opens}, as the local cluster, the tests and the container image start
 * every service). A pure-Java SHA-256 with an exportable state (Bouncy Castle) was measured at 160
 * MB/s against the JDK's 1.3 GB/s (SHA-NI) on these machines: too slow for the hot path.
 *
 * <p>Where the fields cannot be reached, {@link #available()} is false and checkpoints on S3 carry
 * no digest state: a retry then starts its multipart upload over (said once in the log).
 */
public final class DigestState {
  private static final Logger LOG = Logger.getLogger(DigestState.class);

  /** Encoded state: version byte, 8 state words, the byte count. */
  private static final int ENCODED = 1 + 8 * 4 + 8;

  private static final Field SPI;
  private static final Field STATE;
  private static final Field BUF_OFS;
  private static final Field BYTES;

  static {
    Field spi = null;
    Field state = null;
    Field bufOfs = null;
    Field bytes = null;
    try {
      MessageDigest probe = MessageDigest.getInstance("SHA-256");
      spi = field(probe.getClass(), "digestSpi");
      Object impl = spi.get(probe);
      state = field(impl.getClass(), "state");
      bufOfs = field(impl.getClass(), "bufOfs");
      bytes = field(impl.getClass(), "bytesProcessed");
      if (((int[]) state.get(impl)).length != 8) {
        throw new IllegalStateException("SHA-256 state is not 8 words");
      }
    } catch (Exception | LinkageError e) {
      LOG.warnf(
          "The SHA-256 state cannot be saved (%s): downloads into S3 resume from their last part"
              + " only when the JVM opens java.base/java.security and"
              + " java.base/sun.security.provider (--add-opens ...=ALL-UNNAMED, as the container"
              + " image does); otherwise a retry starts over",
          e.toString());
      spi = null;
    }
    SPI = spi;
    STATE = state;
    BUF_OFS = bufOfs;
    BYTES = bytes;
  }

  private DigestState() {}

  /** Whether states can be saved and restored on this JVM. */
  public static boolean available() {
    return SPI != null;
  }

  /**
   * The state of {@code digest} (a JDK SHA-256) after a whole number of 64-byte blocks; null when
   * it cannot be saved.
   */
  public static String save(MessageDigest digest) {
    if (SPI == null) {
      return null;
    }
    try {
      Object impl = SPI.get(digest);
      if (BUF_OFS.getInt(impl) != 0) {
        return null; // not at a block boundary
      }
      int[] words = (int[]) STATE.get(impl);
      ByteBuffer b = ByteBuffer.allocate(ENCODED).put((byte) 1);
      for (int w : words) {
        b.putInt(w);
      }
      b.putLong(BYTES.getLong(impl));
      return Base64.getEncoder().encodeToString(b.array());
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Sets {@code digest} (a fresh or reset JDK SHA-256) to a saved state; false when it cannot be
   * (then the digest is reset).
   */
  public static boolean restore(MessageDigest digest, String saved) {
    if (SPI == null || saved == null) {
      return false;
    }
    try {
      byte[] raw = Base64.getDecoder().decode(saved);
      if (raw.length != ENCODED || raw[0] != 1) {
        return false;
      }
      ByteBuffer b = ByteBuffer.wrap(raw, 1, ENCODED - 1);
      digest.reset();
      Object impl = SPI.get(digest);
      int[] words = (int[]) STATE.get(impl);
      for (int i = 0; i < 8; i++) {
        words[i] = b.getInt();
      }
      BYTES.setLong(impl, b.getLong());
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      digest.reset();
      return false;
    }
  }

  private static Field field(Class<?> type, String name) throws NoSuchFieldException {
    for (Class<?> c = type; c != null; c = c.getSuperclass()) {
      try {
        Field f = c.getDeclaredField(name);
        f.setAccessible(true);
        return f;
      } catch (NoSuchFieldException e) {
        // look further up
      }
    }
    throw new NoSuchFieldException(type.getName() + "." + name);
  }
}
