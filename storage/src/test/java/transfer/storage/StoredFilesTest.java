package transfer.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoredFilesTest {
  @TempDir Path root;

  /** Each durability call as "force <path>" or "dir <path> [names in it]", in order. */
  private final List<String> calls = new ArrayList<>();

  private final Durability recording =
      new Durability() {
        @Override
        public void force(FileChannel channel, Path file) throws IOException {
          Durability.SYSTEM.force(channel, file);
          calls.add("force " + root.relativize(file));
        }

        @Override
        public void syncDirectory(Path dir) throws IOException {
          Durability.SYSTEM.syncDirectory(dir);
          try (var names = Files.list(dir)) {
            calls.add(
                "dir "
                    + (dir.equals(root) ? "." : root.relativize(dir))
                    + " "
                    + names.map(p -> p.getFileName().toString()).sorted().toList());
          }
        }
      };

  private Path written(Path file, String text) throws IOException {
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(text.getBytes()));
    }
    return file;
  }

  @Test
  void publishingADownloadMovesItThenSyncsItsDirectoryAndEveryDirectoryItCreated()
      throws Exception {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    Path temporary = written(files.temporary("task-1", 3), "body");

    Path stored = files.publishDownload(temporary, "tenant-a", "session-b", "task-1", 3);

    assertThat(stored).isEqualTo(root.resolve("tenant-a/session-b/task-1.e3"));
    assertThat(stored).hasContent("body");
    assertThat(temporary).doesNotExist();
    // The file's own directory first (its name is in it), then each new directory's parent.
    assertThat(calls)
        .containsExactly(
            "dir tenant-a/session-b [task-1.e3]",
            "dir tenant-a [session-b]",
            "dir . [.partial, tenant-a]");
  }

  @Test
  void movingADownloadSyncsNothingAndNamesTheDirectoriesToSyncDeepestFirst() throws Exception {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    Path temporary = written(files.temporary("task-1", 3), "body");

    StoredFiles.Moved moved = files.moveDownload(temporary, "tenant-a", "session-b", "task-1", 3);

    assertThat(moved.file()).isEqualTo(root.resolve("tenant-a/session-b/task-1.e3"));
    assertThat(moved.file()).hasContent("body");
    assertThat(moved.location()).isEqualTo(StorageLayout.location(moved.file()));
    assertThat(calls).as("the caller syncs, once per directory for many files").isEmpty();
    assertThat(moved.directories())
        .containsExactly(root.resolve("tenant-a/session-b"), root.resolve("tenant-a"), root);
    for (Path d : moved.directories()) {
      files.syncDirectory(d);
    }
    assertThat(calls)
        .containsExactly(
            "dir tenant-a/session-b [task-1.e3]",
            "dir tenant-a [session-b]",
            "dir . [.partial, tenant-a]");
    // A second download into the same directory names only it.
    assertThat(
            files
                .moveDownload(
                    written(files.temporary("t2", 1), "b"), "tenant-a", "session-b", "t2", 1)
                .directories())
        .containsExactly(root.resolve("tenant-a/session-b"));
  }

  @Test
  void aSecondFileInAnExistingDirectorySyncsOnlyThatDirectory() throws Exception {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    files.publishDownload(written(files.temporary("t1", 1), "a"), "ten", "ses", "t1", 1);
    calls.clear();

    files.publishDownload(written(files.temporary("t2", 1), "b"), "ten", "ses", "t2", 1);

    assertThat(calls).containsExactly("dir ten/ses [t1.e1, t2.e1]");
  }

  @Test
  void publishingAnObjectGivesAFreshNameUnderObjects() throws Exception {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    Path first = files.publishObject(written(files.newStagingFile(), "x"), "ten", "ses");
    Path second = files.publishObject(written(files.newStagingFile(), "y"), "ten", "ses");

    assertThat(first.getParent()).isEqualTo(root.resolve("ten/ses/objects"));
    assertThat(second).isNotEqualTo(first).hasContent("y");
    assertThat(calls).first().asString().startsWith("dir ten/ses/objects [");
    assertThat(calls).last().asString().startsWith("dir ten/ses/objects [");
  }

  @Test
  void forceGoesThroughTheDurability() throws Exception {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    Path staging = files.newStagingFile();
    try (FileChannel ch =
        FileChannel.open(staging, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      files.force(ch, staging);
    }
    assertThat(calls).containsExactly("force " + root.relativize(staging));
  }

  @Test
  void aTenantThatWouldLeadOutOfTheRootIsRefused() {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    assertThatThrownBy(() -> files.layout().newObject("..", ".."))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("does not name a directory under the root");
    assertThatThrownBy(() -> files.layout().download("../..", "x", "t", 1))
        .isInstanceOf(IOException.class);
  }

  @Test
  void locationsResolveOnlyToFilesInsideTheRoot() throws Exception {
    StorageLayout layout = new StorageLayout(root);
    Path inside = root.resolve("t/s/task.e1");
    String location = StorageLayout.location(inside);

    assertThat(layout.resolve(location)).contains(inside);
    assertThat(layout.resolve(StorageLayout.location(root.resolve("../elsewhere")))).isEmpty();
    assertThat(layout.resolve("https://example.org/file")).isEmpty();
    assertThat(layout.resolve("not a uri")).isEmpty();
    assertThat(layout.resolve(null)).isEmpty();
    assertThat(StorageLayout.file("file:///etc/passwd")).contains(Path.of("/etc/passwd"));
  }

  @Test
  void deletesTheTemporaryObjectsOfATaskBeforeAnEpochAndNothingElse() throws Exception {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    Path e1 = written(files.temporary("task", 1), "1");
    Path e2 = written(files.temporary("task", 2), "2");
    Path other = written(files.temporary("task-2", 1), "o");
    Path odd = written(root.resolve(".partial/task.ex.part"), "?");

    files.deleteTemporaries("task", 2);
    assertThat(e1).doesNotExist();
    assertThat(e2).exists();

    files.deleteTemporaries("task", Long.MAX_VALUE);
    assertThat(e2).doesNotExist();
    assertThat(other).exists();
    assertThat(odd).exists();
  }

  @Test
  void deletesBeyondTheAttemptsItDeletesByNameByListingTheDirectory() throws Exception {
    StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
    long late = StoredFiles.DELETE_BY_NAME_UP_TO + 5;
    Path e1 = written(files.temporary("task", 1), "1");
    Path eLate = written(files.temporary("task", late), "l");
    Path eNow = written(files.temporary("task", late + 1), "n");

    files.deleteTemporaries("task", late + 1);

    assertThat(e1).doesNotExist();
    assertThat(eLate).doesNotExist();
    assertThat(eNow).exists();
  }

  @Test
  void deletingALocationOutsideTheRootLeavesItAlone() throws Exception {
    Path outside = Files.createTempFile("outside", ".txt");
    try {
      StoredFiles files = new StoredFiles(new StorageLayout(root), recording);
      assertThat(files.delete(StorageLayout.location(outside))).isTrue();
      assertThat(outside).exists();
      assertThat(files.existing(StorageLayout.location(outside))).isEmpty();
    } finally {
      Files.deleteIfExists(outside);
    }
  }
}
