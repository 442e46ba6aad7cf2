package transfer.api.input;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.StreamWriteConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;

/**
 * Throws thousands of generated requests at the API: valid bodies mutated (fields dropped,
 * duplicated, retyped, huge numbers, unicode, control characters, deep nesting, broken syntax,
 * invalid UTF-8), random paths and methods under {@code /v1}, random {@code Content-Type}, {@code
 * Accept} and {@code Idempotency-Key}. It asserts that no answer is a 5xx, every 4xx is
 * problem+json, {@code /q/health} stays UP, and a refused request stores nothing (a generated
 * request that happens to be valid may create or change things; the state is compared across
 * refused requests only).
 *
 * <p>Each request is generated from its own seed, {@code seed + index}, so a failure names the one
 * request to replay: {@code -Dfuzz.seed=<seed> -Dfuzz.only=<index>}. {@code -Dfuzz.requests}
 * (default 3000) sets how many; without {@code fuzz.seed} a new seed is drawn and printed.
 */
@QuarkusTest
@TestProfile(QuietLedgerProfile.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class ApiFuzzIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  static {
    // The generator writes deeper documents than Jackson writes by default (the API must refuse
    // them, not the test fail to send them).
    JSON.getFactory()
        .setStreamWriteConstraints(
            StreamWriteConstraints.builder().maxNestingDepth(10_000).build());
  }

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final String OK_URL = "http://127.0.0.1:9/fuzz";

  @TestHTTPResource("/")
  URI base;

  @Inject AgroalDataSource db;
  @Inject ApiConfig config;

  /** One generated request. */
  record Request(String method, String path, Map<String, String> headers, byte[] body) {
    String describe() {
      String shown = body == null ? "(no body)" : preview(body);
      return method
          + " "
          + preview(path.getBytes(StandardCharsets.UTF_8))
          + " "
          + headers
          + " "
          + shown;
    }
  }

  @Test
  void noRequestGetsA5xxEveryRefusalIsAProblemAndStoresNothing() throws Exception {
    long seed = Long.getLong("fuzz.seed", new Random().nextLong());
    int count = Integer.getInteger("fuzz.requests", 3000);
    Integer only = Integer.getInteger("fuzz.only");
    System.out.printf(
        "ApiFuzzIT: seed %d, %d requests (replay: -Dfuzz.seed=%d)%n", seed, count, seed);

    RawClient api = new RawClient(base);
    Fixture fx = fixture(api);
    StoredState state = new StoredState(db, config.storage().root());
    StoredState.Snapshot known = state.take();
    long token = state.writeToken();
    Map<Integer, Integer> statuses = new java.util.TreeMap<>();
    int refused = 0;
    int compared = 0;
    long started = System.nanoTime();

    for (int i = only != null ? only : 0; i < (only != null ? only + 1 : count); i++) {
      Request r = generate(new Random(seed + i), fx);
      String where =
          "request "
              + i
              + " of seed "
              + seed
              + " (replay: -Dfuzz.seed="
              + seed
              + " -Dfuzz.only="
              + i
              + "): "
              + r.describe();
      RawClient.Answer a;
      try {
        a = api.sendExactly(r.method(), r.path(), r.headers(), r.body());
      } catch (java.io.IOException e) {
        throw new AssertionError("no answer to " + where, e);
      }
      statuses.merge(a.status(), 1, Integer::sum);
      assertThat(a.status()).as("%s%n answered %s", where, a).isLessThan(500);
      if (a.status() >= 400) {
        refused++;
        if (!r.method().equals("HEAD")) {
          assertThat(a.isProblem()).as("%s%n answered %s", where, a).isTrue();
          assertThat(a.json().path("status").asInt())
              .as("%s%n answered %s", where, a)
              .isEqualTo(a.status());
        }
        long now = state.writeToken();
        if (now != token) {
          // Something wrote since the last look (or the relay deleted a published outbox row):
          // compare everything.
          StoredState.Snapshot after = state.take();
          compared++;
          assertThat(after)
              .as("%s%n changed stored state: %s", where, after.diff(known))
              .isEqualTo(known);
          token = now;
        }
      } else {
        // Accepted (a generated body that is valid): whatever it stored is the new baseline.
        known = state.take();
        token = state.writeToken();
      }
      if (i % 250 == 0) {
        assertHealthy(api, where);
      }
    }
    assertHealthy(api, "the end");
    System.out.printf(
        "ApiFuzzIT: seed %d, %d requests in %d ms, %d refused (%d full state comparisons),"
            + " statuses %s%n",
        seed,
        only != null ? 1 : count,
        (System.nanoTime() - started) / 1_000_000,
        refused,
        compared,
        statuses);
    assertThat(refused).as("most generated requests are bad").isGreaterThan(count / 2 - 1);
  }

  private static void assertHealthy(RawClient api, String after) throws Exception {
    RawClient.Answer h = api.sendExactly("GET", "/q/health", Map.of(), null);
    assertThat(h.status()).as("health after %s: %s", after, h).isEqualTo(200);
    assertThat(h.json().path("status").asText()).as("health after %s", after).isEqualTo("UP");
  }

  // ----------------------------------------------------------------------- the fixture

  /** A session of the fuzz run, an object staged in it and a queued task of it. */
  record Fixture(String sid, String tid) {}

  private static Fixture fixture(RawClient api) throws Exception {
    String sid = "fuzz-" + UUID.randomUUID();
    RawClient.Answer a = api.json("PUT", "/v1/sessions/" + sid, "{}");
    assertThat(a.status()).as("%s", a).isEqualTo(201);
    a =
        api.send(
            "PUT",
            "/v1/sessions/" + sid + "/objects/obj",
            Map.of("Content-Type", "application/octet-stream"),
            "staged".getBytes(StandardCharsets.UTF_8));
    assertThat(a.status()).as("%s", a).isEqualTo(201);
    a =
        api.json(
            "POST",
            "/v1/sessions/" + sid + "/tasks",
            "{\"type\":\"download\",\"url\":\"" + OK_URL + "\"}");
    assertThat(a.status()).as("%s", a).isEqualTo(201);
    return new Fixture(sid, a.json().path("id").asText());
  }

  // ----------------------------------------------------------------------- generation

  private static final String[] METHODS = {
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "FROB"
  };

  private static final String[] CONTENT_TYPES = {
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin1",
    "application/json; charset=nonsense",
    "application/problem+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "multipart/form-data; boundary=x",
    "*/*",
    "application/*",
    "a/b/c",
    ";;;",
    "",
  };

  private static final String[] ACCEPTS = {
    "application/json", "*/*", "text/html", "application/xml", "application/problem+json", "x"
  };

  static Request generate(Random rnd, Fixture fx) {
    Map<String, String> headers = new LinkedHashMap<>();
    // Mostly a valid key (to reach the resources); sometimes none or a wrong one.
    int auth = rnd.nextInt(40);
    if (auth == 0) {
      headers.put("Authorization", "Bearer wrong-" + rnd.nextInt(1000));
    } else if (auth == 1) {
      headers.put(
          "Authorization",
          pick(rnd, "Bearer", "Bearer ", "Basic eDp5", "bearer " + InfraResource.KEY));
    } else if (auth != 2) {
      headers.put("Authorization", "Bearer " + InfraResource.KEY);
    }
    String kind =
        pick(
            rnd, "task", "task", "task", "upload", "session", "session", "cancel", "object", "any");
    String method;
    String path;
    byte[] body;
    switch (kind) {
      case "task", "upload" -> {
        method = rnd.nextInt(10) == 0 ? pick(rnd, METHODS) : "POST";
        path = "/v1/sessions/" + segment(rnd, fx.sid()) + "/tasks" + query(rnd);
        body = body(rnd, kind.equals("task") ? downloadBody(rnd) : uploadBody(rnd));
      }
      case "session" -> {
        method = rnd.nextInt(10) == 0 ? pick(rnd, METHODS) : "PUT";
        path = "/v1/sessions/" + segment(rnd, fx.sid()) + query(rnd);
        body = body(rnd, sessionBody(rnd));
      }
      case "cancel" -> {
        method = rnd.nextInt(10) == 0 ? pick(rnd, METHODS) : "POST";
        path =
            "/v1/sessions/"
                + segment(rnd, fx.sid())
                + "/tasks/"
                + segment(rnd, fx.tid())
                + "/"
                + pick(rnd, "cancel", "cancel", "suspend", "resume", "content", "x", "");
        ObjectNode cancel = NODES.objectNode();
        cancel.put("produceResumeData", rnd.nextBoolean());
        body = rnd.nextInt(4) == 0 ? null : body(rnd, cancel);
      }
      case "object" -> {
        method = pick(rnd, "PUT", "PUT", "GET", "HEAD", "DELETE", "POST");
        path =
            "/v1/sessions/"
                + segment(rnd, fx.sid())
                + "/objects/"
                + segment(rnd, "obj" + rnd.nextInt(3));
        body = rnd.nextInt(3) == 0 ? null : randomBytes(rnd, rnd.nextInt(2000));
        if (rnd.nextInt(3) == 0) {
          headers.put(
              pick(rnd, "Repr-Digest", "X-Checksum-SHA256"),
              pick(
                  rnd,
                  "sha-256=:" + ascii(rnd, 44) + ":",
                  ascii(rnd, 64),
                  "sha-256=::",
                  "",
                  "0".repeat(64)));
        }
      }
      default -> {
        method = pick(rnd, METHODS);
        path = randomPath(rnd, fx);
        body = rnd.nextBoolean() ? null : body(rnd, pick(rnd, downloadBody(rnd), sessionBody(rnd)));
      }
    }
    path = fit(path);
    if (method.equals("GET") && path.contains("/events/stream")) {
      method = "POST"; // a valid stream would stay open; the stream's refusals are BadInputIT's
    }
    if (rnd.nextInt(8) != 0) {
      headers.put(
          "Content-Type",
          body == null || rnd.nextInt(6) != 0 ? "application/json" : pick(rnd, CONTENT_TYPES));
    }
    if (rnd.nextInt(6) == 0) {
      headers.put("Accept", pick(rnd, ACCEPTS));
    }
    if (rnd.nextInt(5) == 0) {
      headers.put(
          "Idempotency-Key",
          pick(
              rnd,
              "key-" + rnd.nextInt(5),
              "k".repeat(256),
              "a b",
              "",
              ascii(rnd, 1 + rnd.nextInt(300))));
    }
    if (rnd.nextInt(20) == 0) {
      headers.put(
          "X-" + ascii(rnd, 5).replaceAll("[^A-Za-z0-9]", "a"), ascii(rnd, rnd.nextInt(100)));
    }
    if (headers.containsKey("Content-Type") && headers.get("Content-Type").isEmpty()) {
      headers.remove("Content-Type");
    }
    return new Request(method, path, headers, body);
  }

  private static ObjectNode downloadBody(Random rnd) {
    ObjectNode t = NODES.objectNode();
    t.put("type", "download");
    t.put("url", OK_URL + "/" + rnd.nextInt(100));
    if (rnd.nextBoolean()) {
      t.putObject("headers").put("X-A", "1").put("Authorization", "Bearer t-" + rnd.nextInt(9));
    }
    if (rnd.nextBoolean()) {
      t.put("expectedBytes", rnd.nextInt(1 << 20));
    }
    if (rnd.nextBoolean()) {
      t.put("sha256", "ab".repeat(32));
    }
    if (rnd.nextBoolean()) {
      t.put("description", "d" + rnd.nextInt(100));
    }
    if (rnd.nextBoolean()) {
      t.put("priority", rnd.nextDouble());
    }
    if (rnd.nextBoolean()) {
      t.put("earliestBeginAt", "2030-01-0" + (1 + rnd.nextInt(9)) + "T00:00:00Z");
    }
    if (rnd.nextBoolean()) {
      t.putObject("metadata").put("k", rnd.nextInt(10)).putArray("a").add(1).add("x");
    }
    return t;
  }

  private static ObjectNode uploadBody(Random rnd) {
    ObjectNode t = NODES.objectNode();
    t.put("type", "upload");
    t.put("url", OK_URL + "/up");
    t.put("method", rnd.nextBoolean() ? "PUT" : "POST");
    ObjectNode src = t.putObject("source");
    if (rnd.nextInt(4) == 0) {
      src.put("task", UUID.randomUUID().toString());
    } else {
      src.put("object", "obj");
    }
    return t;
  }

  private static ObjectNode sessionBody(Random rnd) {
    ObjectNode s = NODES.objectNode();
    if (rnd.nextBoolean()) {
      s.put("maxConcurrentTransfers", 1 + rnd.nextInt(10));
    }
    if (rnd.nextBoolean()) {
      s.put("maxConnectionsPerHost", 1 + rnd.nextInt(10));
    }
    if (rnd.nextBoolean()) {
      s.put("requestTimeout", "PT" + (1 + rnd.nextInt(60)) + "S");
    }
    if (rnd.nextBoolean()) {
      s.put("resourceTimeout", "P" + (1 + rnd.nextInt(7)) + "D");
    }
    if (rnd.nextBoolean()) {
      s.put("discretionary", rnd.nextBoolean());
    }
    if (rnd.nextBoolean()) {
      s.put("sendsEvents", rnd.nextBoolean());
    }
    if (rnd.nextBoolean()) {
      s.putObject("headers").put("X-Api-Key", "k-" + rnd.nextInt(9));
    }
    if (rnd.nextBoolean()) {
      s.putObject("retry")
          .put("maxAttempts", 1 + rnd.nextInt(5))
          .put("initialBackoff", "PT1S")
          .put("maxBackoff", "PT1M");
    }
    return s;
  }

  /**
   * The body: the valid tree after one to four tree mutations, then sometimes a mutation of its
   * text or bytes.
   */
  private static byte[] body(Random rnd, JsonNode valid) {
    JsonNode tree = valid.deepCopy();
    List<String> specials = new ArrayList<>();
    int mutations = rnd.nextInt(12) == 0 ? 0 : 1 + rnd.nextInt(4);
    for (int m = 0; m < mutations; m++) {
      tree = mutateTree(rnd, tree, specials);
    }
    String text;
    try {
      text = JSON.writeValueAsString(tree);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    // Escapes Jackson would not write (NUL, lone surrogates), put in as raw JSON escapes.
    for (int k = 0; k < specials.size(); k++) {
      text = text.replace("@@S" + k + "@@", specials.get(k));
    }
    if (rnd.nextInt(5) == 0) {
      text = mutateText(rnd, text);
    }
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    if (rnd.nextInt(25) == 0) {
      bytes = corruptBytes(rnd, bytes);
    }
    return bytes;
  }

  private static JsonNode mutateTree(Random rnd, JsonNode root, List<String> specials) {
    if (!root.isObject() || root.isEmpty() || rnd.nextInt(30) == 0) {
      return randomValue(rnd, specials, 3); // replace the whole body
    }
    // A random object in the tree, and one of its fields.
    ObjectNode target = (ObjectNode) root;
    while (true) {
      List<String> objectFields = new ArrayList<>();
      target
          .fields()
          .forEachRemaining(
              e -> {
                if (e.getValue().isObject() && !e.getValue().isEmpty()) {
                  objectFields.add(e.getKey());
                }
              });
      if (objectFields.isEmpty() || rnd.nextBoolean()) {
        break;
      }
      target = (ObjectNode) target.get(objectFields.get(rnd.nextInt(objectFields.size())));
    }
    List<String> names = new ArrayList<>();
    target.fieldNames().forEachRemaining(names::add);
    if (names.isEmpty()) {
      target.set("x", randomValue(rnd, specials, 2));
      return root;
    }
    String name = names.get(rnd.nextInt(names.size()));
    switch (rnd.nextInt(9)) {
      case 0 -> target.remove(name);
      case 1 -> target.set(randomName(rnd, specials), randomValue(rnd, specials, 2));
      case 2, 3 -> target.set(name, randomValue(rnd, specials, 2));
      case 4 -> target.set(name, hugeNumber(rnd));
      case 5 -> target.put(name, weirdString(rnd, specials));
      case 6 ->
          target.set(
              name, nest(rnd, target.get(name), 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 1500)));
      case 7 -> {
        JsonNode v = target.remove(name);
        target.set(name.toUpperCase(), v);
      }
      default -> target.put(name, "x".repeat(rnd.nextInt(20_000)));
    }
    return root;
  }

  private static JsonNode randomValue(Random rnd, List<String> specials, int depth) {
    int k = rnd.nextInt(depth > 0 ? 9 : 6);
    return switch (k) {
      case 0 -> NODES.nullNode();
      case 1 -> NODES.booleanNode(rnd.nextBoolean());
      case 2 -> NODES.numberNode(rnd.nextInt());
      case 3 -> NODES.numberNode(rnd.nextDouble() * Math.pow(10, rnd.nextInt(40) - 20));
      case 4 -> hugeNumber(rnd);
      case 5 -> NODES.textNode(weirdString(rnd, specials));
      case 6, 7 -> {
        ObjectNode o = NODES.objectNode();
        for (int i = rnd.nextInt(4); i > 0; i--) {
          o.set(randomName(rnd, specials), randomValue(rnd, specials, depth - 1));
        }
        yield o;
      }
      default -> {
        ArrayNode a = NODES.arrayNode();
        for (int i = rnd.nextInt(4); i > 0; i--) {
          a.add(randomValue(rnd, specials, depth - 1));
        }
        yield a;
      }
    };
  }

  private static String randomName(Random rnd, List<String> specials) {
    return rnd.nextInt(4) == 0
        ? weirdString(rnd, specials)
        : pick(
            rnd,
            "type",
            "url",
            "headers",
            "priority",
            "expectedBytes",
            "sha256",
            "metadata",
            "source",
            "resumeData",
            "retry",
            "requestTimeout",
            "earliestBeginAt",
            "color",
            "$ref",
            "__proto__",
            "");
  }

  private static JsonNode hugeNumber(Random rnd) {
    String n =
        pick(
            rnd,
            "1e308",
            "-1e308",
            "1e400",
            "-1e400",
            "1e-400",
            "9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "2147483648",
            "-0",
            "0.0000001",
            "4.9e-324",
            "1" + "0".repeat(900));
    try {
      return JSON.readTree(n);
    } catch (Exception e) {
      return NODES.textNode(n);
    }
  }

  /** Unicode of every kind, control characters, and escapes Jackson would never write. */
  private static String weirdString(Random rnd, List<String> specials) {
    StringBuilder b = new StringBuilder();
    int length = rnd.nextInt(rnd.nextInt(10) == 0 ? 3000 : 40);
    for (int i = 0; i < length; i++) {
      switch (rnd.nextInt(10)) {
        case 0 -> b.append((char) rnd.nextInt(0x20)); // C0 controls, CR, LF, tab
        case 1 ->
            b.append(
                pick(
                    rnd, "\u0085", "\u2028", "\u2029", "\u202e", "\ufeff", "\u200b", "\u007f",
                    "\uffff"));
        case 2 -> b.appendCodePoint(0x1F600 + rnd.nextInt(80)); // emoji, surrogate pairs
        case 3 -> b.appendCodePoint(0x0400 + rnd.nextInt(0x2000)); // other scripts
        case 4 -> {
          specials.add(pick(rnd, "\\u0000", "\\ud800", "\\udfff", "\\ud83d", "\\u0000\\u0000"));
          b.append("@@S").append(specials.size() - 1).append("@@");
        }
        case 5 ->
            b.append(
                pick(
                    rnd,
                    "..",
                    "/",
                    "\\",
                    "%00",
                    "%0d%0a",
                    "${x}",
                    "' or 1=1--",
                    "<script>",
                    "***"));
        default -> b.append((char) (0x21 + rnd.nextInt(0x5e)));
      }
    }
    return b.toString();
  }

  private static JsonNode nest(Random rnd, JsonNode inner, int depth) {
    JsonNode v = inner == null ? NODES.nullNode() : inner;
    for (int i = 0; i < depth; i++) {
      if (rnd.nextBoolean()) {
        v = NODES.arrayNode().add(v);
      } else {
        ObjectNode o = NODES.objectNode();
        o.set("n", v);
        v = o;
      }
    }
    return v;
  }

  private static String mutateText(Random rnd, String text) {
    if (text.isEmpty()) {
      return "{";
    }
    int at = rnd.nextInt(text.length());
    return switch (rnd.nextInt(8)) {
      case 0 -> text.substring(0, at); // truncated
      case 1 ->
          text + pick(rnd, " x", "}", "{}", ",", " // comment", "\u0000", "\n\n{}"); // trailing
      case 2 -> "\ufeff" + text; // byte order mark
      case 3 ->
          text.substring(0, at) + (char) rnd.nextInt(0x80) + text.substring(at); // a stray char
      case 4 -> duplicateFirstField(text);
      case 5 -> text.replace(":", pick(rnd, "=", "::", ": :")); // broken separators
      case 6 -> text.replace("\"", "'"); // single quotes
      default ->
          pick(
              rnd,
              "",
              " ",
              "null",
              "true",
              "0",
              "\"s\"",
              "[]",
              "[{}]",
              "{}",
              "{{}}",
              "{\"\":}",
              "NaN",
              "undefined");
    };
  }

  /** The first member of the top-level object written twice (last one wins, in Jackson). */
  private static String duplicateFirstField(String text) {
    if (!text.startsWith("{\"")) {
      return text;
    }
    int end = text.indexOf(",\"");
    if (end < 0) {
      return text;
    }
    return "{" + text.substring(1, end) + "," + text.substring(1);
  }

  private static byte[] corruptBytes(Random rnd, byte[] bytes) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int at = bytes.length == 0 ? 0 : rnd.nextInt(bytes.length);
    out.write(bytes, 0, at);
    byte[] junk =
        pick(
            rnd,
            new byte[] {(byte) 0xff},
            new byte[] {(byte) 0xc3},
            new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
            new byte[] {0},
            new byte[] {(byte) 0xf8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80});
    out.write(junk, 0, junk.length);
    out.write(bytes, at, bytes.length - at);
    return out.toByteArray();
  }

  private static byte[] randomBytes(Random rnd, int n) {
    byte[] b = new byte[n];
    rnd.nextBytes(b);
    return b;
  }

  // ----------------------------------------------------------------------- paths

  /** Usually the given (valid) segment, sometimes something else, always percent-encoded. */
  private static String segment(Random rnd, String valid) {
    if (rnd.nextInt(4) != 0) {
      return valid;
    }
    return switch (rnd.nextInt(12)) {
      case 0 -> "";
      case 1 -> pick(rnd, "%2E%2E", "..foo", ".", "%2e", "...");
      case 2 -> valid + pick(rnd, "%00", "%0D%0A", "%20", "%2F", "%5C", "%25", "%3B", "%3F", "%23");
      case 3 -> "x".repeat(1 + rnd.nextInt(rnd.nextBoolean() ? 300 : 5000));
      case 4 -> encode(weirdString(rnd, new ArrayList<>()).replace("@@", ""));
      case 5 -> UUID.randomUUID().toString();
      case 6 -> valid.toUpperCase();
      case 7 -> encodeBytes(randomBytes(rnd, 1 + rnd.nextInt(30)));
      case 8 -> "-" + valid;
      case 9 -> "%27%20or%201%3D1--";
      case 10 -> "a;b=c";
      default -> "s-" + rnd.nextInt(50); // another (valid) session id, maybe new
    };
  }

  private static String query(Random rnd) {
    if (rnd.nextInt(5) != 0) {
      return "";
    }
    StringBuilder q = new StringBuilder("?");
    for (int i = rnd.nextInt(3); i >= 0; i--) {
      q.append(pick(rnd, "limit", "after", "state", "finishTasks", "x", ""))
          .append('=')
          .append(
              pick(
                  rnd,
                  "1",
                  "0",
                  "-1",
                  "99999999999999999999",
                  "abc",
                  "%00",
                  "queued",
                  "true",
                  encode(weirdString(rnd, new ArrayList<>()).replace("@@", ""))))
          .append('&');
    }
    return q.toString();
  }

  private static String randomPath(Random rnd, Fixture fx) {
    String[] templates = {
      "/v1",
      "/v1/",
      "/v1/sessions",
      "/v1/sessions/",
      "/v1/sessions/{s}",
      "/v1/sessions/{s}/tasks",
      "/v1/sessions/{s}/tasks/{t}",
      "/v1/sessions/{s}/tasks/{t}/content",
      "/v1/sessions/{s}/tasks/{t}/cancel",
      "/v1/sessions/{s}/objects/{o}",
      "/v1/sessions/{s}/events",
      "/v1/sessions/{s}/events/stream",
      "/v1/sessions/{s}/x",
      "/v1/tasks",
      "/v1/x/y/z",
      "/v1//sessions",
      "/v1/sessions/{s}/tasks/{t}/{x}/{x}",
    };
    String p =
        pick(rnd, templates)
            .replace("{s}", segment(rnd, fx.sid()))
            .replace("{t}", segment(rnd, fx.tid()))
            .replace("{o}", segment(rnd, "obj"))
            .replace("{x}", segment(rnd, "x"));
    return p + query(rnd);
  }

  /**
   * The path cut to fit the API's request-line limit (16 KiB): a longer line is refused by the HTTP
   * layer itself with a bare 414 before any resource sees it, which BadInputIT documents.
   */
  private static String fit(String path) {
    int max = 15_000;
    if (path.length() <= max) {
      return path;
    }
    String cut = path.substring(0, max);
    int percent = cut.lastIndexOf('%');
    return percent >= max - 2 ? cut.substring(0, percent) : cut;
  }

  /** Percent-encodes everything but unreserved ASCII (RFC 3986). */
  private static String encode(String s) {
    return encodeBytes(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String encodeBytes(byte[] bytes) {
    StringBuilder b = new StringBuilder();
    for (byte x : bytes) {
      int c = x & 0xff;
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '_'
          || c == '.'
          || c == '~') {
        b.append((char) c);
      } else {
        b.append('%').append(String.format("%02X", c));
      }
    }
    return b.toString();
  }

  private static String ascii(Random rnd, int n) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append((char) (0x21 + rnd.nextInt(0x5e)));
    }
    return b.toString();
  }

  @SafeVarargs
  private static <T> T pick(Random rnd, T... choices) {
    return choices[rnd.nextInt(choices.length)];
  }

  static String preview(byte[] bytes) {
    StringBuilder b = new StringBuilder();
    int n = Math.min(bytes.length, 400);
    String s = new String(bytes, 0, n, StandardCharsets.UTF_8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    }
    return b + (bytes.length > n ? "…(" + bytes.length + " bytes)" : "");
  }
}
