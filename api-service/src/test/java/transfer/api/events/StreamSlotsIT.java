package transfer.api.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.InputStream;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.api.TightLimits;
import transfer.api.quota.StreamSlots;
import transfer.contracts.Json;

/**
 * Second catalogue, fault 4 (the cap): a tenant holds at most {@code transfer.quota.event-streams}
 * streams open on an instance (two here); one more answers 429 problem+json with Retry-After, and a
 * stream that ends gives its slot back.
 */
@QuarkusTest
@TestProfile(TightLimits.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class StreamSlotsIT {
  @Inject EventStreamRoute route;
  @Inject StreamSlots slots;

  @TestHTTPResource("/")
  URL base;

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final List<InputStream> bodies = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (InputStream in : bodies) {
      in.close();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> route.openStreams() == 0);
  }

  private HttpResponse<InputStream> open(String sid) throws Exception {
    HttpRequest req =
        HttpRequest.newBuilder(base.toURI().resolve("/v1/sessions/" + sid + "/events/stream"))
            .header("Accept", "text/event-stream")
            .header("Authorization", "Bearer " + InfraResource.KEY)
            .GET()
            .build();
    HttpResponse<InputStream> r =
        http.sendAsync(req, HttpResponse.BodyHandlers.ofInputStream()).get(10, TimeUnit.SECONDS);
    bodies.add(r.body());
    return r;
  }

  @Test
  void aTenantPastItsStreamsGets429UntilOneEnds() throws Exception {
    String sid = TestSessions.create(InfraResource.KEY, "streams");

    HttpResponse<InputStream> first = open(sid);
    HttpResponse<InputStream> second = open(sid);
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(slots.open("default")).isEqualTo(2);

    HttpResponse<InputStream> third = open(sid);
    assertThat(third.statusCode()).isEqualTo(429);
    assertThat(third.headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/problem+json");
    assertThat(third.headers().firstValue("Retry-After")).isPresent();
    JsonNode problem =
        Json.mapper().readTree(new String(third.body().readAllBytes(), StandardCharsets.UTF_8));
    assertThat(problem.path("type").asText()).endsWith("quota-exceeded:event-streams");
    assertThat(slots.open("default")).isEqualTo(2);

    first.body().close();
    await("the ended stream gives its slot back")
        .atMost(Duration.ofSeconds(10))
        .until(() -> slots.open("default") == 1);
    assertThat(open(sid).statusCode()).isEqualTo(200);
  }
}
