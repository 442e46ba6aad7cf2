package transfer.api.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.http.HttpMethod;
import java.util.Base64;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import transfer.api.problem.ApiException;

class ObjectRulesTest {
  private static final String HEX =
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  private static final String B64 =
      Base64.getEncoder().encodeToString(HexFormat.of().parseHex(HEX));

  @Test
  void namesAreOneTo200SafeCharactersNotStartingWithADot() {
    ObjectRules.requireName("a");
    ObjectRules.requireName("report-2024.v2_final.csv");
    ObjectRules.requireName("x".repeat(200));
    for (String bad : new String[] {"", ".hidden", "..", "a/b", "a b", "ü", "x".repeat(201)}) {
      assertThatThrownBy(() -> ObjectRules.requireName(bad))
          .as(bad)
          .isInstanceOfSatisfying(
              ApiException.class,
              e ->
                  assertThat(e.toProblem("/").errors())
                      .extracting(f -> f.field())
                      .containsExactly("name"));
    }
  }

  @Test
  void readsSha256FromReprDigestAmongOtherAlgorithms() {
    assertThat(ObjectRules.expectedSha256("sha-256=:" + B64 + ":", null)).contains(HEX);
    assertThat(ObjectRules.expectedSha256("sha-512=:AAAA:, sha-256=:" + B64 + ":", null))
        .contains(HEX);
    assertThat(ObjectRules.expectedSha256("sha-512=:AAAA:", null)).isEmpty();
    assertThat(ObjectRules.expectedSha256(null, HEX.toUpperCase())).contains(HEX);
    assertThat(ObjectRules.expectedSha256("sha-256=:" + B64 + ":", HEX)).contains(HEX);
    assertThat(ObjectRules.expectedSha256(null, null)).isEmpty();
  }

  @Test
  void malformedOrDisagreeingDigestHeadersAreRefusedNamingTheHeader() {
    String other = "0".repeat(64);
    String[][] cases = {
      {"sha-256=" + B64, null, "Repr-Digest"},
      {"sha-256=:AAAA:", null, "Repr-Digest"},
      {null, "abc", "X-Checksum-SHA256"},
      {"sha-256=:" + B64 + ":", other, "X-Checksum-SHA256"},
    };
    for (String[] c : cases) {
      assertThatThrownBy(() -> ObjectRules.expectedSha256(c[0], c[1]))
          .isInstanceOfSatisfying(
              ApiException.class,
              e ->
                  assertThat(e.toProblem("/").errors())
                      .extracting(f -> f.field())
                      .containsExactly(c[2]));
    }
  }

  @Test
  void onlyObjectPutsEscapeTheGeneralBodyLimit() {
    assertThat(BodyLimits.isObjectPut(HttpMethod.PUT, "/v1/sessions/s/objects/o")).isTrue();
    assertThat(BodyLimits.isObjectPut(HttpMethod.POST, "/v1/sessions/s/objects/o")).isFalse();
    assertThat(BodyLimits.isObjectPut(HttpMethod.PUT, "/v1/sessions/s")).isFalse();
    assertThat(BodyLimits.isObjectPut(HttpMethod.PUT, "/v1/sessions/s/objects/o/x")).isFalse();
    assertThat(BodyLimits.isObjectPut(HttpMethod.POST, "/v1/sessions/s/tasks")).isFalse();
  }
}
