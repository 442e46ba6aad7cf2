package transfer.api.load;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which requests count against {@code transfer.api.max-in-flight}. */
class LoadSheddingTest {
  @Test
  void theApisRequestsCountAndLongLivedOnesAndHealthDoNot() {
    assertThat(LoadShedding.counted("/v1/sessions")).isTrue();
    assertThat(LoadShedding.counted("/v1/sessions/s1")).isTrue();
    assertThat(LoadShedding.counted("/v1/sessions/s1/tasks")).isTrue();
    assertThat(LoadShedding.counted("/v1/sessions/s1/tasks/t1")).isTrue();
    assertThat(LoadShedding.counted("/v1/sessions/s1/events")).isTrue();
    assertThat(LoadShedding.counted("/v1/admin/tenants")).isTrue();

    assertThat(LoadShedding.counted("/v1/sessions/s1/events/stream")).isFalse();
    assertThat(LoadShedding.counted("/v1/sessions/s1/objects/o1")).isFalse();
    assertThat(LoadShedding.counted("/v1/sessions/s1/tasks/t1/content")).isFalse();
    assertThat(LoadShedding.counted("/q/health/ready")).isFalse();
    assertThat(LoadShedding.counted("/q/metrics")).isFalse();
    assertThat(LoadShedding.counted(null)).isFalse();
  }
}
