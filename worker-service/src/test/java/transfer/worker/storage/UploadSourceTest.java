package transfer.worker.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UploadSourceTest {
  @TempDir Path dir;

  @Test
  void aRegularFileOfTheRecordedSizeUnderTheRootIsASource() throws Exception {
    Path root = Files.createDirectories(dir.resolve("objects"));
    Path file =
        Files.write(Files.createDirectories(root.resolve("t/s")).resolve("a.e1"), bytes(10));

    assertThat(UploadSource.checked(file.toUri().toString(), 10L, root))
        .isEqualTo(file.toRealPath());
  }

  @Test
  void aSourceThatIsGoneResizedOrNotAFileIsMissing() throws Exception {
    Path root = Files.createDirectories(dir.resolve("objects"));
    Path file = Files.write(root.resolve("a.e1"), bytes(10));
    Path sub = Files.createDirectories(root.resolve("sub"));

    assertMissing(root.resolve("gone").toUri().toString(), 10L, root, "is gone");
    assertMissing(file.toUri().toString(), 11L, root, "has 10 bytes, it had 11");
    assertMissing(sub.toUri().toString(), 0L, root, "not a regular file");
    assertMissing(null, 10L, root, "no stored source");
    assertMissing(file.toUri().toString(), null, root, "no stored source");
  }

  @Test
  void aSourceOutsideTheStorageRootIsRefusedInEverySpelling() throws Exception {
    Path root = Files.createDirectories(dir.resolve("objects"));
    Path outside = Files.write(dir.resolve("secret"), bytes(10));
    Path link = Files.createSymbolicLink(root.resolve("link"), outside);

    assertMissing(outside.toUri().toString(), 10L, root, "outside the storage root");
    assertMissing(
        root.toUri() + "../secret", 10L, root, "outside the storage root"); // dot-dot escape
    assertMissing(link.toUri().toString(), 10L, root, "leads outside the storage root");
    assertMissing("http://example.com/x", 10L, root, "not a file: URI");
    assertMissing("file://host/x", 10L, root, "not a file: URI");
  }

  private static void assertMissing(String location, Long size, Path root, String why) {
    assertThatThrownBy(() -> UploadSource.checked(location, size, root))
        .isInstanceOf(UploadSource.SourceMissing.class)
        .hasMessageContaining(why);
  }

  private static byte[] bytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) i;
    }
    return b;
  }
}
