package transfer.api.egress;

import io.quarkus.runtime.configuration.MemorySize;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.List;
import java.util.Optional;
import transfer.egress.EgressPolicy;

/**
 * Where tasks may fetch from and send to, under {@code transfer.fetch.}: the same keys (and
 * environment names, {@code TRANSFER_FETCH_ALLOWED_DESTINATIONS}) as the workers', so one setting
 * serves both.
 */
@ConfigMapping(prefix = "transfer.fetch")
public interface FetchConfig {
  /**
   * Destinations allowed besides public addresses: {@code 127.0.0.1:8081}, {@code 10.0.0.0/8},
   * {@code files.internal}, {@code .corp.example}, {@code [fd00::1]:9000}. None by default.
   */
  Optional<List<String>> allowedDestinations();

  /** Ports a public address may be reached on. */
  @WithDefault(EgressPolicy.DEFAULT_PORTS_SETTING)
  List<Integer> allowedPorts();

  /** Most bytes one task may transfer (download body or upload source). */
  @WithDefault(EgressPolicy.DEFAULT_MAX_BYTES_SETTING)
  MemorySize maxBytes();
}
