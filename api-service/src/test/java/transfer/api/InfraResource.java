package transfer.api;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.nio.file.Files;
import java.util.Map;
import transfer.testkit.TestFiles;
import transfer.testkit.TestInfra;

/** Points the api-service at this test JVM's one Kafka broker and one PostgreSQL. */
public class InfraResource implements QuarkusTestResourceLifecycleManager {
  public static final String KEY = "api-it-key";
  public static final String ALLOWED = "127.0.0.1:9";
  public static final String ADMIN_KEY = "api-it-admin-key-0123456789abcdefghijklmnop";
  private java.nio.file.Path storage;

  /** Whether the test runs under {@link TightLimits}, whose limits this resource must not lift. */
  private boolean tight;

  @Override
  public void setContext(Context context) {
    tight = TightLimits.class.getName().equals(context.testProfile());
  }

  @Override
  public Map<String, String> start() {
    TestInfra infra = TestInfra.shared();
    try {
      return Map.of(
          "quarkus.datasource.jdbc.url", infra.jdbcUrl(),
          "quarkus.datasource.username", infra.dbUser(),
          "quarkus.datasource.password", infra.dbPassword(),
          "kafka.bootstrap.servers", infra.kafkaBootstrap(),
          "transfer.api.bootstrap-key", KEY,
          // Tests submit tasks that never run to this one loopback address (port 9, discard);
          // deploy's EgressClusterIT shows every other loopback spelling refused.
          "transfer.fetch.allowed-destinations", ALLOWED,
          "transfer.admin-key", ADMIN_KEY,
          // Many test classes send made-up keys from 127.0.0.1: the budget of uncached key
          // lookups per address is raised for them, and kept under TightLimits (KeyLookupsIT).
          "transfer.quota.key-lookup-burst", tight ? "20" : "1000000",
          "transfer.storage.root",
              (storage = Files.createTempDirectory("api-it-objects")).toString());
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void stop() {
    // TestInfra stops with the JVM; other test classes reuse it. The stored objects go now.
    if (storage != null) {
      TestFiles.deleteTree(storage);
    }
  }
}
