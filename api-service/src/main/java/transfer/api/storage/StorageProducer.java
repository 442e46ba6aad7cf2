package transfer.api.storage;

import io.quarkus.logging.Log;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.nio.file.Path;
import transfer.api.ApiConfig;
import transfer.storage.StorageUrl;
import transfer.storage.StoredFiles;
import transfer.storage.s3.S3Bucket;

/**
 * The stored bytes of {@code transfer.storage.url}, laid out and synced as the workers do: the file
 * system, or an S3 bucket (where local files only spool staged bodies, under {@code
 * transfer.storage.root}).
 */
@ApplicationScoped
public class StorageProducer {
  private S3Bucket bucket;

  @Produces
  @Singleton
  StoredFiles storedFiles(ApiConfig config) {
    StorageUrl url = config.storage().location();
    Path root = url.s3() ? config.storage().root() : url.root();
    return new StoredFiles(root);
  }

  @Produces
  @Singleton
  StoredBytes storedBytes(ApiConfig config, StoredFiles files) {
    StorageUrl url = config.storage().location();
    if (!url.s3()) {
      return new FileBytes(files);
    }
    bucket = S3Bucket.open(config.storage().s3().settings(), url.bucket(), url.prefix());
    Log.infof("Stored bytes are in %s", url);
    return new S3Bytes(bucket, config.storage().linkTtl());
  }

  @PreDestroy
  void close() {
    if (bucket != null) {
      bucket.close();
    }
  }
}
