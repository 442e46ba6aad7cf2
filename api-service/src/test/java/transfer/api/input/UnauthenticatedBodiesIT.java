package transfer.api.input;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import transfer.api.InfraResource;

/**
 * Second catalogue, fault 2: 100 connections each send a chunked request body without a valid API
 * key and never finish it. Each is answered 401 problem+json while its body is still open (no byte
 * of it was needed to refuse it), so the server holds none of them in memory. Before, each body was
 * buffered (up to 10 MiB) before the key was checked, and no answer came until it ended.
 */
@QuarkusTest
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class UnauthenticatedBodiesIT {
  private static final int CONNECTIONS = 100;

  @TestHTTPResource("/")
  URL base;

  @Test
  void unauthenticatedChunkedBodiesAreRefusedBeforeTheyAreRead() throws Exception {
    byte[] chunk = new byte[256 * 1024];
    java.util.Arrays.fill(chunk, (byte) '{');
    long heapBefore = usedHeapAfterGc();
    List<Socket> sockets = new ArrayList<>();
    int refused = 0;
    try {
      for (int i = 0; i < CONNECTIONS; i++) {
        Socket s = new Socket(base.getHost(), base.getPort());
        s.setSoTimeout(10_000);
        sockets.add(s);
        OutputStream out = s.getOutputStream();
        String auth = i % 2 == 0 ? "" : "Authorization: Bearer made-up-" + i + "\r\n";
        out.write(
            ("POST /v1/sessions/s/tasks HTTP/1.1\r\nHost: localhost\r\n"
                    + auth
                    + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(chunk);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        // The body stays open: no last chunk is ever sent.
      }
      for (Socket s : sockets) {
        BufferedReader in =
            new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        String status = in.readLine();
        assertThat(status).as("the answer while the body is still open").startsWith("HTTP/1.1 401");
        String line;
        boolean problem = false;
        while ((line = in.readLine()) != null && !line.isEmpty()) {
          problem |= line.toLowerCase().startsWith("content-type: application/problem+json");
        }
        assertThat(problem).as("problem+json").isTrue();
        refused++;
      }
    } finally {
      for (Socket s : sockets) {
        s.close();
      }
    }
    long heapAfter = usedHeapAfterGc();
    System.out.printf(
        "[figures] %d unauthenticated chunked bodies left open: %d answered 401 before their end;"
            + " heap used %d MiB before, %d MiB after%n",
        CONNECTIONS, refused, heapBefore >> 20, heapAfter >> 20);
    assertThat(refused).isEqualTo(CONNECTIONS);
  }

  private static long usedHeapAfterGc() {
    System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
