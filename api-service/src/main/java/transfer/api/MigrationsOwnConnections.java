package transfer.api;

import io.quarkus.flyway.FlywayConfigurationCustomizer;
import jakarta.inject.Singleton;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import transfer.ledger.MigrationConnections;

/** Migrations at start run on connections of their own ({@link MigrationConnections}). */
@Singleton
public class MigrationsOwnConnections implements FlywayConfigurationCustomizer {
  private final String url;
  private final Optional<String> user;
  private final Optional<String> password;

  public MigrationsOwnConnections(
      @ConfigProperty(name = "quarkus.datasource.jdbc.url") String url,
      @ConfigProperty(name = "quarkus.datasource.username") Optional<String> user,
      @ConfigProperty(name = "quarkus.datasource.password") Optional<String> password) {
    this.url = url;
    this.user = user;
    this.password = password;
  }

  @Override
  public void customize(FluentConfiguration configuration) {
    configuration.dataSource(
        MigrationConnections.url(url), user.orElse(null), password.orElse(null));
  }
}
