package transfer.deploy;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import transfer.s3server.EmbeddedS3;
import transfer.storage.s3.S3Bucket;
import transfer.storage.s3.S3Settings;
import transfer.testkit.TestFiles;

/**
 * The stored bytes of a test cluster, as the tests look at them behind the services' backs: files
 * under the storage root, or (with {@code -Dtransfer.storage=s3}, as the failsafe execution {@code
 * s3} runs a named set of the cluster tests) objects in a bucket of an S3 API server on loopback
 * (S3Proxy).
 */
public final class ClusterStorage implements AutoCloseable {
  /** Whether this test JVM's cluster stores bytes in S3 rather than on the file system. */
  public static final boolean S3 = "s3".equals(System.getProperty("transfer.storage"));

  static final String BUCKET = "transfer-it";

  private final Path dataDir;
  private final Path storageRoot;

  /** The S3 API server of an S3 cluster, or null. */
  final EmbeddedS3 server;

  /** The bucket of an S3 cluster as the services see it, or null. */
  final S3Bucket bucket;

  private ClusterStorage(Path dataDir, Path storageRoot, EmbeddedS3 server, S3Bucket bucket) {
    this.dataDir = dataDir;
    this.storageRoot = storageRoot;
    this.server = server;
    this.bucket = bucket;
  }

  /** The storage of a cluster whose files are under {@code storageRoot} (and on S3, a bucket). */
  public static ClusterStorage start(Path dataDir, Path storageRoot) throws IOException {
    if (!S3) {
      return new ClusterStorage(dataDir, storageRoot, null, null);
    }
    EmbeddedS3 server =
        EmbeddedS3.start(
            dataDir.resolve("s3"),
            0,
            "it-access",
            "it-secret-" + Long.toHexString(System.nanoTime()));
    server.createBucket(BUCKET);
    System.setProperty("aws.accessKeyId", server.accessKey());
    System.setProperty("aws.secretAccessKey", server.secretKey());
    S3Bucket bucket =
        S3Bucket.open(
            new S3Settings(
                Optional.of(server.endpoint()),
                Optional.of("us-east-1"),
                true,
                Optional.of(true),
                Duration.ofSeconds(30)),
            BUCKET,
            "objects/");
    return new ClusterStorage(dataDir, storageRoot, server, bucket);
  }

  /** What the services' environment says about storage (the root is set by the fixture). */
  public Map<String, String> env() {
    Map<String, String> env = new HashMap<>();
    if (S3) {
      env.put("TRANSFER_STORAGE_URL", "s3://" + BUCKET + "/objects");
      // The SDK's own configuration, as an operator gives it; the endpoint and the settings
      // S3-compatible servers need are the cluster's.
      env.put("AWS_ACCESS_KEY_ID", server.accessKey());
      env.put("AWS_SECRET_ACCESS_KEY", server.secretKey());
      env.put("AWS_REGION", "us-east-1");
      env.put("TRANSFER_STORAGE_S3_ENDPOINT", server.endpoint().toString());
      env.put("TRANSFER_STORAGE_S3_PATH_STYLE", "true");
      env.put("TRANSFER_STORAGE_S3_REQUEST_CHECKSUMS", "when-required");
      // Small parts, so that the tests' bodies of a few MiB are multipart uploads.
      env.put("TRANSFER_STORAGE_PART_SIZE", "5M");
      env.put("TRANSFER_STORAGE_SPOOL", dataDir.resolve("spool").toString());
    }
    return env;
  }

  /**
   * What storage holds whose name starts with {@code namePrefix} (a task id): files anywhere under
   * the root, or the bucket's objects and multipart uploads in progress.
   */
  public List<String> namesStartingWith(String namePrefix) throws IOException {
    List<String> found = new ArrayList<>();
    if (S3) {
      for (String key : bucket.keys("objects/")) {
        if (key.substring(key.lastIndexOf('/') + 1).startsWith(namePrefix)) {
          found.add(key);
        }
      }
      for (S3Bucket.Upload u : bucket.uploads("objects/")) {
        if (u.key().substring(u.key().lastIndexOf('/') + 1).startsWith(namePrefix)) {
          found.add(u.key() + " (upload " + u.uploadId() + ")");
        }
      }
      return found;
    }
    if (!Files.exists(storageRoot)) {
      return found;
    }
    try (Stream<Path> all = Files.walk(storageRoot)) {
      all.filter(p -> p.getFileName().toString().startsWith(namePrefix))
          .forEach(p -> found.add(p.toString()));
    }
    return found;
  }

  /**
   * What a task's attempts hold that is not content yet: its temporary files ({@code .partial/}),
   * or its multipart uploads in progress.
   */
  public List<String> temporariesOf(String tid) throws IOException {
    return namesStartingWith(tid).stream()
        .filter(n -> S3 ? n.endsWith(")") : n.contains("/.partial/"))
        .toList();
  }

  /** The staged objects a session holds in storage (their names). */
  List<String> stagedObjects(String tenant, String sid) throws IOException {
    if (S3) {
      return bucket.keys("objects/" + tenant + "/" + sid + "/objects/");
    }
    Path dir = storageRoot.resolve(tenant).resolve(sid).resolve("objects");
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(Path::toString).toList();
    }
  }

  /** Deletes the stored bytes of a recorded location, behind the cluster's back. */
  void delete(String location) throws IOException {
    if (S3) {
      bucket.delete(bucket.layout().key(location).orElseThrow());
    } else {
      Files.delete(storedFile(location));
    }
  }

  /** Flips the byte at {@code offset} of the stored bytes of a location (same size, new digest). */
  void flipByte(String location, long offset) throws IOException {
    if (S3) {
      String key = bucket.layout().key(location).orElseThrow();
      byte[] all;
      try (InputStream in = bucket.read(key, 0, -1)) {
        all = in.readAllBytes();
      }
      all[(int) offset] ^= (byte) 0xff;
      Path tmp = Files.createTempFile(dataDir, "flip", ".bin");
      Files.write(tmp, all);
      bucket.put(key, tmp);
      Files.delete(tmp);
      return;
    }
    try (java.nio.channels.FileChannel ch =
        FileChannel.open(storedFile(location), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer one = ByteBuffer.allocate(1);
      ch.read(one, offset);
      ch.write(ByteBuffer.wrap(new byte[] {(byte) (one.get(0) ^ 0xff)}), offset);
    }
  }

  /** The file of a {@code file:} location, checked to be under the root. */
  private Path storedFile(String location) {
    Path p = Path.of(URI.create(location));
    if (!p.startsWith(storageRoot) || !Files.isRegularFile(p)) {
      throw new AssertionError(location + " is no stored file under " + storageRoot);
    }
    return p;
  }

  @Override
  /**
   * Stops the S3 server and deletes what it stored and the workers' spool, hundreds of MiB per run;
   * the logs beside them stay, as the fixtures keep them.
   */
  public void close() {
    if (S3) {
      bucket.close();
      server.close();
      try {
        TestFiles.deleteTree(dataDir.resolve("s3"));
        TestFiles.deleteTree(dataDir.resolve("spool"));
      } catch (RuntimeException e) {
        // best effort at exit
      }
    }
  }
}
