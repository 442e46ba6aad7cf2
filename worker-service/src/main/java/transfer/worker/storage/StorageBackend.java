package transfer.worker.storage;

import io.quarkus.logging.Log;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import transfer.storage.StorageUrl;
import transfer.storage.s3.S3Bucket;
import transfer.worker.WorkerConfig;

/**
 * Chooses where downloads are stored, once at start, from {@code transfer.storage.url}: the file
 * system ({@link FileDownloads}) or an S3 bucket ({@link S3Downloads}). The code above {@link
 * DownloadStore} does not know which.
 */
@ApplicationScoped
public class StorageBackend {
  private S3Bucket bucket;
  private WorkerExecutor requests;

  @Produces
  @Singleton
  UploadSources sources(WorkerConfig config, FileStorage files, Vertx vertx) {
    return config.storage().location().s3()
        ? new UploadSources(files, bucket(config), requests(config, vertx))
        : new UploadSources(files, null, null);
  }

  @Produces
  @Singleton
  DownloadStore downloads(
      WorkerConfig config, FileStorage files, Vertx vertx, @Named("workerId") String workerId) {
    WorkerConfig.Storage storage = config.storage();
    StorageUrl url = storage.location();
    if (!url.s3()) {
      return new FileDownloads(files);
    }
    long partSize = storage.partSize().asLongValue();
    if (partSize < (5L << 20) || partSize % (1L << 20) != 0) {
      throw new IllegalArgumentException(
          "transfer.storage.part-size is "
              + partSize
              + " bytes; S3 parts are at least 5 MiB: write a whole number of MiB, 5M or more");
    }
    Path spool =
        storage
            .spool()
            .orElse(Paths.get(System.getProperty("java.io.tmpdir"), "transfer-spool"))
            .resolve(workerId.replaceAll("[^A-Za-z0-9._-]", "_"));
    emptySpool(spool);
    Log.infof(
        "Downloads are stored in %s (parts of %d MiB, spooled in %s)", url, partSize >> 20, spool);
    return new S3Downloads(bucket(config), files, requests(config, vertx), partSize, spool);
  }

  /**
   * Whether this worker's storage takes bytes. On the file system a probe writes under the storage
   * root; on S3 there is no volume of ours to probe (the spool is a scratch directory), so a
   * storage failure stops claims until the next probe's time only.
   */
  @Produces
  @Singleton
  StorageHealth storageHealth(
      WorkerConfig config, FileStorage files, @Named("workerId") String workerId) {
    return new StorageHealth(
        config.storage().location().s3()
            ? null
            : StorageHealth.writing(files.files().layout().root(), workerId));
  }

  void closeStorageHealth(@Disposes StorageHealth health) {
    health.close();
  }

  private synchronized S3Bucket bucket(WorkerConfig config) {
    if (bucket == null) {
      StorageUrl url = config.storage().location();
      bucket = S3Bucket.open(config.storage().s3().settings(), url.bucket(), url.prefix());
    }
    return bucket;
  }

  private synchronized WorkerExecutor requests(WorkerConfig config, Vertx vertx) {
    if (requests == null) {
      requests =
          vertx.createSharedWorkerExecutor(
              "transfer-s3", Math.max(1, config.storage().requestThreads()));
    }
    return requests;
  }

  /** Parts a killed worker left in its spool are never uploaded: the next attempt starts anew. */
  private static void emptySpool(Path spool) {
    try {
      Files.createDirectories(spool);
      try (DirectoryStream<Path> left = Files.newDirectoryStream(spool)) {
        for (Path p : left) {
          Files.deleteIfExists(p);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot prepare the S3 spool directory " + spool + " (transfer.storage.spool)", e);
    }
  }

  @PreDestroy
  void close() {
    if (bucket != null) {
      bucket.close();
    }
  }
}
