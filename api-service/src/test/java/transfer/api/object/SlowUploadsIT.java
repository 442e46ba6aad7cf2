package transfer.api.object;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.RestAssured;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;
import transfer.api.TestSessions;
import transfer.api.TightLimits;
import transfer.api.admin.TestTenants;
import transfer.api.admin.TestTenants.Tenant;
import transfer.api.quota.UploadSlots;
import transfer.contracts.Json;

/**
 * Second catalogue, fault 3: slow object uploads from one tenant. Each upload holds a worker thread
 * while its body arrives, so a tenant has at most {@code transfer.quota.uploads} in progress on an
 * instance (two here): one more answers 429 problem+json, while another tenant's uploads and reads
 * are served. A body that arrives slower than {@code transfer.objects.min-rate} over a window (1
 * KiB/s over 2 s here), silent or trickling, is cut: its connection closed, nothing stored, its
 * slot given back.
 */
@QuarkusTest
@TestProfile(TightLimits.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class SlowUploadsIT {
  // Larger than the paced uploads send in the test (8 KiB/s), so they end only when told to.
  private static final long BODY = 1 << 20;

  @Inject UploadSlots slots;

  private final List<SlowUpload> open = new ArrayList<>();

  @AfterEach
  void closeUploads() throws Exception {
    for (SlowUpload u : open) {
      u.close();
    }
  }

  @Test
  void aTenantPastItsUploadsGets429WhileAnotherTenantIsServed() throws Exception {
    Tenant slow = TestTenants.create("slow-uploads");
    Tenant other = TestTenants.create("other-uploads");
    String sid = TestSessions.create(slow.key(), "slow");
    String otherSid = TestSessions.create(other.key(), "other");

    // Two uploads that keep above the minimum pace (4 KiB every 0.5 s) and do not end.
    SlowUpload first = start(slow, sid, "first", 4096, Duration.ofMillis(500));
    SlowUpload second = start(slow, sid, "second", 4096, Duration.ofMillis(500));
    await("both uploads are in progress")
        .atMost(Duration.ofSeconds(10))
        .until(() -> slots.open(slow.id()) == 2);

    Response third = put(slow, sid, "third", new byte[1024]);
    assertThat(third.statusCode()).isEqualTo(429);
    assertThat(third.contentType()).startsWith("application/problem+json");
    assertThat(third.header("Retry-After")).isNotNull();
    JsonNode problem = Json.mapper().readTree(third.asString());
    assertThat(problem.path("type").asText()).endsWith("quota-exceeded:uploads");
    assertThat(problem.path("detail").asText()).contains(slow.id());

    // The other tenant: its upload is stored and its reads answered while they go on.
    long t0 = System.nanoTime();
    assertThat(put(other, otherSid, "small", new byte[1024]).statusCode()).isEqualTo(201);
    assertThat(other.api().get("/v1/sessions/" + otherSid).statusCode()).isEqualTo(200);
    System.out.printf(
        "another tenant's upload and read while the slow tenant holds its cap: %d ms%n",
        (System.nanoTime() - t0) / 1_000_000);
    Thread.sleep(3000); // more than a window: the paced uploads are not cut
    assertThat(first.isOpen() && second.isOpen()).as("uploads at the pace go on").isTrue();

    // One ends: its slot is back, and the tenant may upload again.
    String answer = first.finish();
    assertThat(answer).startsWith("HTTP/1.1 201");
    await().atMost(Duration.ofSeconds(10)).until(() -> slots.open(slow.id()) == 1);
    assertThat(put(slow, sid, "third", new byte[1024]).statusCode()).isEqualTo(201);
  }

  @Test
  void aBodySlowerThanTheMinimumIsCutAndNothingIsStored() throws Exception {
    Tenant slow = TestTenants.create("trickle-uploads");
    String sid = TestSessions.create(slow.key(), "trickle");

    // 16 bytes every 0.5 s: never idle, far below 1 KiB/s. And one that sends nothing more.
    SlowUpload trickle = start(slow, sid, "trickle", 16, Duration.ofMillis(500));
    SlowUpload silent = start(slow, sid, "silent", 0, Duration.ofMillis(500));
    long t0 = System.nanoTime();
    await("both are cut")
        .atMost(Duration.ofSeconds(15))
        .until(() -> !trickle.isOpen() && !silent.isOpen());
    long cutAfter = (System.nanoTime() - t0) / 1_000_000;
    System.out.printf("uploads below the minimum pace cut after %d ms (window 2 s)%n", cutAfter);
    assertThat(cutAfter).isGreaterThanOrEqualTo(1500);

    await().atMost(Duration.ofSeconds(10)).until(() -> slots.open(slow.id()) == 0);
    for (String name : List.of("trickle", "silent")) {
      assertThat(slow.api().get("/v1/sessions/" + sid + "/objects/" + name).statusCode())
          .as("nothing of %s was stored", name)
          .isEqualTo(404);
    }
    assertThat(put(slow, sid, "after", new byte[1024]).statusCode()).isEqualTo(201);
  }

  private static Response put(Tenant t, String sid, String name, byte[] body) {
    return t.api()
        .contentType("application/octet-stream")
        .body(body)
        .put("/v1/sessions/" + sid + "/objects/" + name);
  }

  private SlowUpload start(Tenant t, String sid, String name, int chunk, Duration every)
      throws IOException {
    SlowUpload u = new SlowUpload(t.key(), sid, name, chunk, every);
    open.add(u);
    return u;
  }

  /**
   * A PUT of {@value #BODY} bytes on a plain socket: the head and 1 KiB at once, then {@code chunk}
   * bytes every period until {@link #finish} sends the rest.
   */
  private static final class SlowUpload implements AutoCloseable {
    private final Socket socket;
    private final OutputStream out;
    private final AtomicBoolean trickling = new AtomicBoolean(true);
    private final Thread writer;
    private volatile boolean closedByServer;
    private long sent;

    SlowUpload(String key, String sid, String name, int chunk, Duration every) throws IOException {
      socket = new Socket("127.0.0.1", RestAssured.port);
      out = socket.getOutputStream();
      String head =
          "PUT /v1/sessions/"
              + sid
              + "/objects/"
              + name
              + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
              + key
              + "\r\nContent-Type: application/octet-stream\r\nContent-Length: "
              + BODY
              + "\r\n\r\n";
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      write(1024);
      writer =
          new Thread(
              () -> {
                while (trickling.get()) {
                  try {
                    Thread.sleep(every.toMillis());
                    if (chunk > 0 && trickling.get()) {
                      write(chunk);
                    }
                  } catch (IOException e) {
                    closedByServer = true;
                    return;
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "slow-upload-" + name);
      writer.setDaemon(true);
      writer.start();
    }

    private synchronized void write(int n) throws IOException {
      int len = (int) Math.min(n, BODY - sent);
      out.write(new byte[len]);
      out.flush();
      sent += len;
    }

    /** Whether the server has not closed the connection (probed without blocking for long). */
    boolean isOpen() throws IOException {
      if (closedByServer) {
        return false;
      }
      socket.setSoTimeout(50);
      try {
        // An end of stream, or a byte of an early answer: the server has ended the upload.
        socket.getInputStream().read();
        closedByServer = true;
        return false;
      } catch (java.net.SocketTimeoutException stillOpen) {
        return true;
      } catch (SocketException reset) {
        closedByServer = true;
        return false;
      }
    }

    /** Sends the rest of the body; answers the server's answer. */
    String finish() throws Exception {
      trickling.set(false);
      writer.join(5000);
      write((int) (BODY - sent));
      socket.setSoTimeout(10_000);
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[4096];
      // The answer's head and its JSON body: enough to read until the body's closing brace.
      while (!got.toString(StandardCharsets.UTF_8).trim().endsWith("}")) {
        int n = in.read(buf);
        if (n < 0) {
          break;
        }
        got.write(buf, 0, n);
      }
      return got.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws Exception {
      trickling.set(false);
      writer.interrupt();
      socket.close();
    }
  }
}
