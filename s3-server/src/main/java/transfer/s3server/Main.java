package transfer.s3server;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The S3 API server as a process (the container image {@code localhost/transfer-s3}, which compose
 * runs): S3Proxy over the directory {@code S3_DATA_DIR}, listening on {@code S3_HOST:S3_PORT},
 * checking signatures made with {@code S3_ACCESS_KEY}/{@code S3_SECRET_KEY}, with the buckets of
 * {@code S3_BUCKETS} (comma-separated) created at start. Runs until SIGTERM.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    String access = required(env, "S3_ACCESS_KEY");
    String secret = required(env, "S3_SECRET_KEY");
    Path dir = Path.of(env.getOrDefault("S3_DATA_DIR", "/data"));
    String host = env.getOrDefault("S3_HOST", "0.0.0.0");
    int port = Integer.parseInt(env.getOrDefault("S3_PORT", "9000"));
    EmbeddedS3 server = EmbeddedS3.start(dir, host, port, access, secret);
    for (String bucket : env.getOrDefault("S3_BUCKETS", "").split(",")) {
      if (!bucket.isBlank()) {
        server.createBucket(bucket.trim());
      }
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  stopped.countDown();
                },
                "s3-stop"));
    System.out.printf(
        "S3 API on %s:%d, objects in %s, buckets %s%n",
        host, port, dir, env.getOrDefault("S3_BUCKETS", "(none)"));
    stopped.await();
  }

  private static String required(Map<String, String> env, String name) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      System.err.println(name + " is not set: the S3 API server needs a key pair to check");
      System.exit(2);
    }
    return v;
  }
}
