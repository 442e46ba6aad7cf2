package transfer.api.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import transfer.storage.StorageLayout;
import transfer.storage.StoredFiles;
import transfer.testkit.RecordingDurability;

class ObjectStoreTest {
  @TempDir Path root;

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  private long filesUnder(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).count();
    }
  }

  @Test
  void aStagedBodyIsForcedAndItsFinalNameSyncedBeforeCommitReturns() throws Exception {
    RecordingDurability durability = new RecordingDurability();
    ObjectStore store =
        new ObjectStore(new StoredFiles(new StorageLayout(root), durability.observe(Path::toFile)));
    byte[] body = randomBytes(ObjectStore.BUFFER_BYTES + 5);

    ObjectStore.Staged staged = store.stage(new ByteArrayInputStream(body), body.length, 1 << 30);
    assertThat(durability.syncs())
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.kind()).isEqualTo(RecordingDurability.Kind.FORCE);
              assertThat(s.path()).isEqualTo(staged.file());
            });

    Path stored = commit(store, staged, "t1", "s1");
    assertThat(durability.of(stored.getParent()))
        .as("the objects directory, synced with the new name in it")
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.kind()).isEqualTo(RecordingDurability.Kind.DIRECTORY);
              assertThat(s.entries()).containsExactly(stored.getFileName().toString());
            });
  }

  @Test
  void stagesTheWholeBodyWithItsSizeAndDigestAndCommitsItUnderAFreshName() throws Exception {
    ObjectStore store = new ObjectStore(root);
    // Larger than the buffer and not a multiple of it, so partial last writes are covered.
    byte[] body = randomBytes(3 * ObjectStore.BUFFER_BYTES + 17);

    ObjectStore.Staged staged = store.stage(new ByteArrayInputStream(body), body.length, 1 << 30);

    assertThat(staged.size()).isEqualTo(body.length);
    assertThat(staged.sha256()).isEqualTo(sha256(body));
    assertThat(staged.file().getParent()).isEqualTo(root.resolve(".partial"));
    Path first = commit(store, staged, "t1", "s1");
    Path second =
        commit(store, store.stage(new ByteArrayInputStream(body), -1, 1 << 30), "t1", "s1");
    assertThat(first.getParent()).isEqualTo(root.resolve("t1/s1/objects"));
    assertThat(second).isNotEqualTo(first);
    assertThat(Files.readAllBytes(first)).isEqualTo(body);
    assertThat(filesUnder(root.resolve(".partial"))).isZero();
    assertThat(existing(store, first.toUri().toString())).contains(first);
    delete(store, first.toUri().toString());
    assertThat(first).doesNotExist();
  }

  @Test
  void aBodyOverTheLimitIsRefusedWithoutLengthAndLeavesNoFile() {
    ObjectStore store = new ObjectStore(root);
    byte[] body = randomBytes(1001);

    assertThatThrownBy(() -> store.stage(new ByteArrayInputStream(body), -1, 1000))
        .isInstanceOf(ObjectStore.TooLarge.class);
    assertThat(root.resolve(".partial")).isEmptyDirectory();
  }

  @Test
  void aBodyOfExactlyTheLimitIsAccepted() throws Exception {
    ObjectStore store = new ObjectStore(root);
    ObjectStore.Staged staged = store.stage(new ByteArrayInputStream(randomBytes(1000)), -1, 1000);
    assertThat(staged.size()).isEqualTo(1000);
  }

  @Test
  void aBodyShorterThanDeclaredIsIncompleteAndLeavesNoFile() {
    ObjectStore store = new ObjectStore(root);

    assertThatThrownBy(() -> store.stage(new ByteArrayInputStream(randomBytes(50)), 100, 1000))
        .isInstanceOf(ObjectStore.Incomplete.class)
        .hasMessageContaining("50 of 100");
    assertThat(root.resolve(".partial")).isEmptyDirectory();
  }

  @Test
  void aBrokenStreamIsIncompleteAndLeavesNoFile() {
    ObjectStore store = new ObjectStore(root);
    InputStream breaking =
        new InputStream() {
          int served;

          @Override
          public int read() throws IOException {
            if (served++ < 10_000) {
              return 7;
            }
            throw new IOException("Connection was closed");
          }
        };

    assertThatThrownBy(() -> store.stage(breaking, 20_000, 1 << 20))
        .isInstanceOf(ObjectStore.Incomplete.class)
        .hasMessageContaining("of 20000");
    assertThat(root.resolve(".partial")).isEmptyDirectory();
  }

  @Test
  void locationsOutsideTheRootAreNeverServedOrDeleted() throws Exception {
    ObjectStore store = new ObjectStore(root.resolve("inner"));
    Path outside = Files.writeString(root.resolve("keep"), "x");

    assertThat(existing(store, outside.toUri().toString())).isEmpty();
    delete(store, outside.toUri().toString());
    delete(store, "s3://bucket/key");
    assertThat(outside).exists();
  }

  private static Path commit(ObjectStore store, ObjectStore.Staged staged, String t, String s)
      throws java.io.IOException {
    return Path.of(
        java.net.URI.create(
            new transfer.api.storage.FileBytes(store.files()).store(staged.file(), t, s)));
  }

  private static java.util.Optional<Path> existing(ObjectStore store, String location) {
    return store.files().existing(location);
  }

  private static void delete(ObjectStore store, String location) {
    new transfer.api.storage.FileBytes(store.files()).delete(location);
  }
}
