package transfer.api;

import io.restassured.RestAssured;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;

/** HTTP/1.1 on a plain socket, for what no client library sends: a body cut short, a lie. */
public final class RawSocket {
  private RawSocket() {}

  /**
   * Sends {@code head} and the start of a body to the service under test; answers everything it
   * sent back until it closed the connection.
   *
   * <p>The body is written by a thread of its own while this one reads: a server that answers early
   * and closes makes the rest of the write fail (broken pipe, or a reset), which is not the test's
   * concern; its answer is.
   */
  public static String exchange(String head, byte[] bodyPrefix) throws IOException {
    try (Socket s = new Socket("127.0.0.1", RestAssured.port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread writer =
          new Thread(
              () -> {
                try {
                  out.write(bodyPrefix);
                  out.flush();
                } catch (IOException closedByTheServer) {
                  // expected when the server refuses the request before reading its body
                }
              },
              "raw-socket-body");
      writer.setDaemon(true);
      writer.start();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) >= 0; ) { // the server closes after its answer
          got.write(buffer, 0, n);
        }
      } catch (SocketException reset) {
        // Our unread body makes the closing server reset the connection; keep what came before.
        if (got.size() == 0) {
          throw reset;
        }
      }
      return got.toString(StandardCharsets.UTF_8);
    }
  }
}
