package transfer.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Listeners that must never be reached: SSRF tests aim refused destinations at them and then assert
 * {@link #connections()} is zero. One port, bound on each given loopback address; every accepted
 * connection is counted and closed at once.
 */
public final class Canary implements AutoCloseable {
  private final List<ServerSocket> sockets = new ArrayList<>();
  private final AtomicInteger connections = new AtomicInteger();
  private final int port;

  private Canary(int port) {
    this.port = port;
  }

  /**
   * Listens on {@code port} (0: a free one, the same on every address) of each address; an address
   * that cannot be bound here (IPv6 switched off) is skipped, see {@link #addresses()}.
   */
  public static Canary start(int port, String... loopbackAddresses) throws IOException {
    Canary c = null;
    for (String a : loopbackAddresses) {
      InetAddress address = InetAddress.getByName(a);
      if (!address.isLoopbackAddress()) {
        throw new IllegalArgumentException(a + " is not a loopback address");
      }
      ServerSocket s = new ServerSocket();
      try {
        s.bind(new InetSocketAddress(address, c == null ? port : c.port), 50);
      } catch (IOException e) {
        s.close();
        if (c == null && address instanceof java.net.Inet4Address) {
          throw e;
        }
        continue;
      }
      if (c == null) {
        c = new Canary(s.getLocalPort());
      }
      c.listen(s);
    }
    if (c == null) {
      throw new IllegalArgumentException("no address to listen on");
    }
    return c;
  }

  private void listen(ServerSocket s) {
    sockets.add(s);
    Thread t =
        new Thread(
            () -> {
              while (!s.isClosed()) {
                try (Socket accepted = s.accept()) {
                  connections.incrementAndGet();
                } catch (IOException e) {
                  // closed
                }
              }
            },
            "canary-" + s.getLocalSocketAddress());
    t.setDaemon(true);
    t.start();
  }

  public int port() {
    return port;
  }

  /** The addresses actually listened on, as URL hosts ({@code [::1]} for IPv6). */
  public List<String> addresses() {
    return sockets.stream()
        .map(s -> s.getInetAddress())
        .map(
            a ->
                a instanceof java.net.Inet6Address
                    ? "[" + a.getHostAddress() + "]"
                    : a.getHostAddress())
        .toList();
  }

  public int connections() {
    return connections.get();
  }

  @Override
  public void close() {
    for (ServerSocket s : sockets) {
      try {
        s.close();
      } catch (IOException e) {
        // closing
      }
    }
  }
}
