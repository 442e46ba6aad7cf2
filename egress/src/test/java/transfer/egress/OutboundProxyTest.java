package transfer.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class OutboundProxyTest {
  private static Optional<OutboundProxy.Proxy> route(OutboundProxy p, String url) {
    return p.forDestination(Destination.of(url));
  }

  @Test
  void noVariablesNoProxy() {
    OutboundProxy p = OutboundProxy.fromEnvironment(Map.of("NO_PROXY", "example.com"));
    assertThat(p.isEnabled()).isFalse();
    assertThat(route(p, "https://example.org/f")).isEmpty();
    assertThat(p).hasToString(OutboundProxy.none().toString());
  }

  @Test
  void eachSchemeHasItsOwnProxy() {
    OutboundProxy p =
        OutboundProxy.fromEnvironment(
            Map.of("HTTPS_PROXY", "http://secure.proxy:3128", "HTTP_PROXY", "plain.proxy:8080"));
    assertThat(route(p, "https://example.org/f"))
        .hasValueSatisfying(
            x -> {
              assertThat(x.host()).isEqualTo("secure.proxy");
              assertThat(x.port()).isEqualTo(3128);
              assertThat(x.variable()).isEqualTo("HTTPS_PROXY");
            });
    assertThat(route(p, "http://example.org/f"))
        .hasValueSatisfying(
            x -> {
              assertThat(x.host()).isEqualTo("plain.proxy");
              assertThat(x.port()).isEqualTo(8080);
            });
    assertThat(route(OutboundProxy.fromEnvironment(Map.of("https_proxy", "p:1")), "http://e.org/"))
        .as("an https proxy only")
        .isEmpty();
  }

  @Test
  void theLowerCaseNameWinsAndThePortDefaultsTo80() {
    OutboundProxy p =
        OutboundProxy.fromEnvironment(
            Map.of("https_proxy", "http://lower:1", "HTTPS_PROXY", "http://upper:2"));
    assertThat(route(p, "https://e.org/").orElseThrow().host()).isEqualTo("lower");
    assertThat(
            route(
                    OutboundProxy.fromEnvironment(Map.of("HTTPS_PROXY", "http://p/")),
                    "https://e.org/")
                .orElseThrow()
                .port())
        .isEqualTo(80);
  }

  @Test
  void credentialsAreDecodedAndNeverShown() {
    OutboundProxy p =
        OutboundProxy.fromEnvironment(Map.of("HTTPS_PROXY", "http://svc%40corp:p%3Ass+w@p:3128"));
    OutboundProxy.Proxy x = route(p, "https://e.org/").orElseThrow();
    assertThat(x.username()).isEqualTo("svc@corp");
    assertThat(x.password()).isEqualTo("p:ss+w");
    assertThat(x.toString()).contains("svc@corp:***@p:3128").doesNotContain("ss+w");
    assertThat(p.toString()).doesNotContain("ss+w");
  }

  @Test
  void noProxyNamesDomainsAddressesNetworksAndPorts() {
    OutboundProxy p =
        OutboundProxy.fromEnvironment(
            Map.of(
                "HTTPS_PROXY", "http://p:3128",
                "HTTP_PROXY", "http://p:3128",
                "no_proxy",
                    "localhost, .internal,*.corp.example, files.example:8443 ,10.0.0.0/8,"
                        + "192.168.1.7,[fd00::1]:443"));
    assertThat(route(p, "http://localhost:8080/")).isEmpty();
    assertThat(route(p, "https://a.internal/")).isEmpty();
    assertThat(route(p, "https://internal/")).as("curl: the domain itself too").isEmpty();
    assertThat(route(p, "https://x.y.corp.example/")).isEmpty();
    assertThat(route(p, "https://notcorp.example/")).isPresent();
    assertThat(route(p, "https://files.example:8443/")).isEmpty();
    assertThat(route(p, "https://files.example/")).as("another port").isPresent();
    assertThat(route(p, "http://10.200.0.1/")).isEmpty();
    assertThat(route(p, "http://11.0.0.1/")).isPresent();
    assertThat(route(p, "https://192.168.1.7/")).isEmpty();
    assertThat(route(p, "https://[fd00::1]/")).isEmpty();
    assertThat(route(p, "https://[fd00::1]:8443/")).isPresent();
    assertThat(route(p, "https://LOCALHOST./")).as("case and a trailing dot").isEmpty();
    // A name is matched as written, never by what it resolves to.
    assertThat(route(p, "https://ten.example/")).isPresent();
    assertThat(p.toString()).contains("directly to").contains(".internal");
  }

  @Test
  void aStarInNoProxyMeansNoProxyAtAll() {
    OutboundProxy p =
        OutboundProxy.fromEnvironment(Map.of("HTTPS_PROXY", "http://p:3128", "NO_PROXY", "*"));
    assertThat(p.isEnabled()).isFalse();
    assertThat(route(p, "https://e.org/")).isEmpty();
  }

  @Test
  void unusableValuesNameTheVariableAndHideTheValue() {
    assertThatThrownBy(
            () -> OutboundProxy.fromEnvironment(Map.of("HTTPS_PROXY", "https://u:secret@p:443")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("HTTPS_PROXY")
        .hasMessageContaining("only http:// proxies")
        .hasMessageNotContaining("secret");
    assertThatThrownBy(() -> OutboundProxy.fromEnvironment(Map.of("http_proxy", "socks5://p:1080")))
        .hasMessageContaining("http_proxy");
    assertThatThrownBy(
            () -> OutboundProxy.fromEnvironment(Map.of("HTTP_PROXY", "http://p:3128/path")))
        .hasMessageContaining("path");
    assertThatThrownBy(
            () ->
                OutboundProxy.fromEnvironment(
                    Map.of("HTTP_PROXY", "http://p:3128", "NO_PROXY", "a.example:http")))
        .hasMessageContaining("no_proxy")
        .hasMessageContaining("a.example:http");
  }
}
