package transfer.worker.attempt;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import transfer.contracts.ErrorCodes;

class RedirectDecisionTest {
  private static final String URL = "https://files.example.com/a/b?sig=1";

  @Test
  void aRedirectWithALocationIsFollowedRelativeToItsHopWithoutTheFragment() {
    for (int s : new int[] {301, 302, 303, 307, 308}) {
      assertThat(RedirectDecision.of(s, "/c/d#part", URL, 0, 5))
          .as("%d", s)
          .isEqualTo(new RedirectDecision.Follow("https://files.example.com/c/d", 1));
    }
    assertThat(RedirectDecision.of(302, "e?x=1", "https://h.example/a/b", 2, 5))
        .isEqualTo(new RedirectDecision.Follow("https://h.example/a/e?x=1", 3));
    assertThat(RedirectDecision.of(307, "http://other.example:8080/f", URL, 4, 5))
        .isEqualTo(new RedirectDecision.Follow("http://other.example:8080/f", 5));
  }

  @Test
  void otherStatusesAndARedirectWithoutLocationAreNotRedirects() {
    assertThat(RedirectDecision.of(302, null, URL, 0, 5)).isEqualTo(RedirectDecision.NONE);
    for (int s : new int[] {200, 206, 300, 304, 305, 404, 500}) {
      assertThat(RedirectDecision.of(s, "/x", URL, 0, 5))
          .as("%d", s)
          .isEqualTo(RedirectDecision.NONE);
    }
  }

  @Test
  void beyondTheLimitTheTaskFailsNamingWhereTheLastWentWithoutItsQuery() {
    RedirectDecision d = RedirectDecision.of(302, "https://next.example/f?token=s3cr3t", URL, 5, 5);
    assertThat(d).isInstanceOf(RedirectDecision.Refuse.class);
    RedirectDecision.Refuse r = (RedirectDecision.Refuse) d;
    assertThat(r.error().code()).isEqualTo(ErrorCodes.TOO_MANY_REDIRECTS);
    assertThat(r.error().retryable()).isFalse();
    assertThat(r.error().message())
        .isEqualTo(
            "more than 5 redirects (transfer.worker.max-redirects); the last went to"
                + " https://next.example/f?…");
    assertThat(RedirectDecision.of(301, "/x", URL, 0, 0))
        .isInstanceOf(RedirectDecision.Refuse.class);
  }

  @Test
  void aLocationThatIsNoUrlIsABlockedDestination() {
    RedirectDecision d = RedirectDecision.of(302, "http://bad host/ x", URL, 0, 5);
    assertThat(d).isInstanceOf(RedirectDecision.Refuse.class);
    assertThat(((RedirectDecision.Refuse) d).error().code())
        .isEqualTo(ErrorCodes.BLOCKED_DESTINATION);
    assertThat(((RedirectDecision.Refuse) d).error().retryable()).isFalse();
  }

  @Test
  void theCallersHeadersGoOnlyToTheTasksOrigin() {
    assertThat(RedirectDecision.carriesCallerHeaders(URL, URL)).isTrue();
    assertThat(RedirectDecision.carriesCallerHeaders(URL, "https://files.example.com/other"))
        .isTrue();
    assertThat(RedirectDecision.carriesCallerHeaders(URL, "https://files.example.com:443/x"))
        .isTrue();
    assertThat(RedirectDecision.carriesCallerHeaders(URL, "https://cdn.example.com/a/b")).isFalse();
    assertThat(RedirectDecision.carriesCallerHeaders(URL, "http://files.example.com/a/b"))
        .isFalse();
    assertThat(RedirectDecision.carriesCallerHeaders(URL, "https://files.example.com:8443/a"))
        .isFalse();
    assertThat(RedirectDecision.carriesCallerHeaders("not a url", "https://files.example.com/"))
        .isFalse();
  }
}
