package transfer.deploy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 in front of a loopback port that can cut every open connection on cue: a
 * network failure in the middle of a long-lived response (an event stream). It keeps the first
 * bytes each client sent (the request head) for the test to read, and can be pointed at another
 * port (a service's address that moves to a new server).
 */
final class CuttingProxy implements AutoCloseable {
  private final ServerSocket server;
  private volatile int target;
  private final List<Socket> open = new CopyOnWriteArrayList<>();

  /** The request heads, one per connection, in the order they arrived. */
  final List<String> heads = new CopyOnWriteArrayList<>();

  CuttingProxy(int targetPort) throws IOException {
    this.target = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread accept = new Thread(this::accept, "cutting-proxy-accept");
    accept.setDaemon(true);
    accept.start();
  }

  int port() {
    return server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        continue; // closed: the loop ends
      }
      try {
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
        open.add(client);
        open.add(upstream);
        pump(client, upstream, true);
        pump(upstream, client, false);
      } catch (IOException e) {
        // The target refused (nothing listens there now): so is the client, at once.
        closeQuietly(client);
      }
    }
  }

  private void pump(Socket from, Socket to, boolean recordHead) {
    Thread t =
        new Thread(
            () -> {
              byte[] buf = new byte[16 * 1024];
              boolean first = recordHead;
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) >= 0; ) {
                  if (first) {
                    heads.add(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                    first = false;
                  }
                  out.write(buf, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // cut or closed
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                open.remove(from);
                open.remove(to);
              }
            },
            "cutting-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  /**
   * Sends new connections to another port from now on (open ones stay where they are): a Kubernetes
   * Service whose endpoint moved, as after a database switchover.
   */
  void retarget(int port) {
    this.target = port;
  }

  /** Cuts every open connection now. */
  void cutAll() {
    for (Socket s : open) {
      closeQuietly(s);
    }
  }

  @Override
  public void close() {
    closeQuietly(server);
    cutAll();
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // already closed
    }
  }
}
