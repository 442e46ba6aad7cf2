package transfer.testkit;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * An upload target on 127.0.0.1 that speaks tus 1.0 ({@code Tus-Resumable: 1.0.0}) and the IETF's
 * resumable uploads ({@code Upload-Draft-Interop-Version: 6}), as tusd does: {@code POST <any
 * path>} with {@code Upload-Length} and no body creates an upload ({@code 201}, {@code Location:
 * /uploads/<id>}), {@code HEAD /uploads/<id>} answers the offset it holds, {@code PATCH
 * /uploads/<id>} with the right {@code Upload-Offset} appends (another offset: {@code 409}). What a
 * PATCH delivered before its connection broke is kept, as tus servers keep it. Received bytes are
 * hashed as they arrive, never held.
 *
 * <p>Faults, as query parameters of the creation URL, for that upload: {@code cutAfter=N} closes
 * the first PATCH's connection once the upload holds N bytes; {@code rate=bytesPerSecond} reads
 * bodies no faster; {@code relative=true} answers the creation with a relative {@code Location}.
 */
public final class ResumableTarget implements AutoCloseable {

  /**
   * One upload as the target holds it: {@code created} the path and query it was created at, {@code
   * protocol} {@code tus} or {@code ietf}, the {@code patchOffsets} its PATCHes started at, in
   * order, {@code heads} HEADs answered, and the SHA-256 of its bytes once it holds all of them
   * (else null).
   */
  public record Upload(
      String id,
      String created,
      String protocol,
      long length,
      long offset,
      List<Long> patchOffsets,
      int heads,
      String sha256,
      String authorization) {}

  private final class State {
    final String id;
    final String created;
    final String protocol;
    final long length;
    final long cutAfter;
    final long rate;
    final String authorization;
    final MessageDigest digest = sha256();
    final List<Long> patchOffsets = new CopyOnWriteArrayList<>();
    volatile long offset;
    volatile int heads;
    volatile String sha256;
    volatile boolean cut;
    volatile boolean busy;

    State(
        String id,
        String created,
        String protocol,
        long length,
        long cutAfter,
        long rate,
        String auth) {
      this.id = id;
      this.created = created;
      this.protocol = protocol;
      this.length = length;
      this.cutAfter = cutAfter;
      this.rate = rate;
      this.authorization = auth;
    }

    Upload snapshot() {
      return new Upload(
          id,
          created,
          protocol,
          length,
          offset,
          List.copyOf(patchOffsets),
          heads,
          sha256,
          authorization);
    }
  }

  private final Vertx vertx;
  private final Map<String, State> uploads = new ConcurrentHashMap<>();
  private volatile int port;

  private ResumableTarget(Vertx vertx) {
    this.vertx = vertx;
  }

  /** Starts a target on a free port of 127.0.0.1. */
  public static ResumableTarget start() {
    return start(0);
  }

  /** Starts a target on this port of 127.0.0.1 (0: a free one). */
  public static ResumableTarget start(int port) {
    Vertx vertx =
        Vertx.vertx(
            new VertxOptions()
                .setEventLoopPoolSize(1)
                // Otherwise Vert.x creates a file cache directory it never needs here.
                .setFileSystemOptions(
                    new FileSystemOptions()
                        .setFileCachingEnabled(false)
                        .setClassPathResolvingEnabled(false)));
    ResumableTarget target = new ResumableTarget(vertx);
    try {
      HttpServer server =
          vertx
              .createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(port))
              .requestHandler(target::handle)
              .listen()
              .toCompletionStage()
              .toCompletableFuture()
              .get(30, TimeUnit.SECONDS);
      target.port = server.actualPort();
      return target;
    } catch (Exception e) {
      vertx.close();
      throw new IllegalStateException("resumable target failed to start", e);
    }
  }

  public int port() {
    return port;
  }

  /** {@code "http://127.0.0.1:<port>" + pathAndQuery}: where uploads are created. */
  public String url(String pathAndQuery) {
    return "http://127.0.0.1:" + port + pathAndQuery;
  }

  /** Every upload created so far. */
  public List<Upload> uploads() {
    return uploads.values().stream().map(State::snapshot).toList();
  }

  /** The uploads created at this path and query. */
  public List<Upload> createdAt(String pathAndQuery) {
    return uploads().stream().filter(u -> u.created().equals(pathAndQuery)).toList();
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      Thread.currentThread().interrupt();
    }
  }

  private void handle(HttpServerRequest req) {
    String protocol =
        req.getHeader("Upload-Draft-Interop-Version") != null
            ? "ietf"
            : "1.0.0".equals(req.getHeader("Tus-Resumable")) ? "tus" : null;
    if (protocol == null) {
      answer(req, 412, "neither Tus-Resumable: 1.0.0 nor Upload-Draft-Interop-Version");
      return;
    }
    if (req.method() == HttpMethod.POST) {
      create(req, protocol);
      return;
    }
    State s = req.path().startsWith("/uploads/") ? uploads.get(req.path().substring(9)) : null;
    if (s == null) {
      answer(req, 404, "no such upload");
    } else if (req.method() == HttpMethod.HEAD) {
      s.heads++;
      HttpServerResponse resp = req.response();
      resp.putHeader("Upload-Offset", String.valueOf(s.offset));
      resp.putHeader("Upload-Length", String.valueOf(s.length));
      resp.putHeader("Cache-Control", "no-store");
      protocolHeaders(resp, s);
      resp.setStatusCode("tus".equals(s.protocol) ? 200 : 204).end();
    } else if (req.method() == HttpMethod.PATCH) {
      append(req, s);
    } else {
      answer(req, 405, "POST, HEAD or PATCH");
    }
  }

  private void create(HttpServerRequest req, String protocol) {
    long length = number(req.getHeader("Upload-Length"));
    if (length < 0) {
      answer(req, 400, "Upload-Length is required");
      return;
    }
    String id = UUID.randomUUID().toString();
    State s =
        new State(
            id,
            req.uri(),
            protocol,
            length,
            number(req.getParam("cutAfter")),
            Math.max(0, number(req.getParam("rate"))),
            req.getHeader("Authorization"));
    uploads.put(id, s);
    req.end()
        .onComplete(
            v -> {
              HttpServerResponse resp = req.response();
              resp.putHeader(
                  "Location",
                  "true".equals(req.getParam("relative")) ? "../uploads/" + id : "/uploads/" + id);
              resp.putHeader("Upload-Offset", "0");
              protocolHeaders(resp, s);
              answer(req, 201, "created");
            });
  }

  private void append(HttpServerRequest req, State s) {
    String type = req.getHeader("Content-Type");
    String wanted =
        "tus".equals(s.protocol) ? "application/offset+octet-stream" : "application/partial-upload";
    if (!wanted.equals(type)) {
      answer(req, 415, "Content-Type must be " + wanted);
      return;
    }
    long from = number(req.getHeader("Upload-Offset"));
    if (from != s.offset || s.busy) {
      answer(req, 409, "the upload holds " + s.offset + " bytes");
      return;
    }
    s.busy = true;
    s.patchOffsets.add(from);
    long started = System.nanoTime();
    long[] got = {0};
    boolean[] stopped = {false};
    req.connection().closeHandler(v -> s.busy = false);
    req.handler(
        buf -> {
          if (stopped[0]) {
            return;
          }
          long room = s.length - s.offset;
          int take = (int) Math.min(buf.length(), room);
          boolean cutNow = !s.cut && s.cutAfter >= 0 && s.offset + take >= s.cutAfter;
          if (cutNow) {
            take = (int) Math.max(0, s.cutAfter - s.offset);
          }
          s.digest.update(buf.getBytes(0, take));
          s.offset += take;
          got[0] += take;
          if (cutNow) {
            s.cut = true;
            stopped[0] = true;
            s.busy = false;
            req.connection().close();
            return;
          }
          if (s.rate > 0) {
            long due = started + (long) (got[0] * 1e9 / s.rate);
            long wait = TimeUnit.NANOSECONDS.toMillis(due - System.nanoTime());
            if (wait >= 1) {
              req.pause();
              vertx.setTimer(wait, t -> req.resume());
            }
          }
        });
    req.endHandler(
        v -> {
          if (stopped[0]) {
            return;
          }
          s.busy = false;
          HttpServerResponse resp = req.response();
          resp.putHeader("Upload-Offset", String.valueOf(s.offset));
          protocolHeaders(resp, s);
          if (s.offset == s.length && s.sha256 == null) {
            s.sha256 = HexFormat.of().formatHex(s.digest.digest());
          }
          if ("tus".equals(s.protocol) || s.offset < s.length) {
            resp.setStatusCode(204).end();
          } else {
            answer(req, 200, "received " + s.offset + " bytes, sha256 " + s.sha256);
          }
        });
  }

  private static void protocolHeaders(HttpServerResponse resp, State s) {
    if ("tus".equals(s.protocol)) {
      resp.putHeader("Tus-Resumable", "1.0.0");
    } else {
      resp.putHeader("Upload-Draft-Interop-Version", "6");
      resp.putHeader("Upload-Complete", s.offset == s.length ? "?1" : "?0");
    }
  }

  private static void answer(HttpServerRequest req, int status, String text) {
    byte[] body = (text + "\n").getBytes(StandardCharsets.UTF_8);
    req.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "text/plain; charset=utf-8")
        .end(Buffer.buffer(body));
  }

  private static long number(String value) {
    try {
      return value == null ? -1 : Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
