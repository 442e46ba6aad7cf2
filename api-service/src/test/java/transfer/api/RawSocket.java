package transfer.api;

import io.restassured.RestAssured;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** HTTP/1.1 on a plain socket, for what no client library sends: a body cut short, a lie. */
public final class RawSocket {
  private RawSocket() {}

  /**
   * Sends {@code head} and the start of a body to the service under test; answers everything it
   * sent back until it closed the connection.
   */
  public static String exchange(String head, byte[] bodyPrefix) throws IOException {
    try (Socket s = new Socket("127.0.0.1", RestAssured.port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(bodyPrefix);
      out.flush();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      s.getInputStream().transferTo(got); // the server closes after its answer
      return got.toString(StandardCharsets.UTF_8);
    }
  }
}
