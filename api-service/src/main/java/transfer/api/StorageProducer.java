package transfer.api;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import transfer.storage.StoredFiles;

/** The stored bytes under {@code transfer.storage.root}, laid out and synced as the workers do. */
@ApplicationScoped
public class StorageProducer {

  @Produces
  @Singleton
  StoredFiles storedFiles(ApiConfig config) {
    return new StoredFiles(config.storage().root());
  }
}
