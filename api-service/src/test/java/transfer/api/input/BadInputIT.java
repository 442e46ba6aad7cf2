package transfer.api.input;

import static org.assertj.core.api.Assertions.assertThat;

import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import transfer.api.ApiConfig;
import transfer.api.InfraResource;

/**
 * The "Bad input" catalogue of docs/TESTING.md, proven on every endpoint where an entry applies:
 * each case is answered with the expected 4xx as {@code application/problem+json}, its {@code
 * errors} name the offending field, and nothing stored changed (every ledger table the API writes,
 * the outbox and the storage directory, compared before and after the request).
 *
 * <p>Paths use {@code {sid}} for an active session that holds a staged object {@code obj} and a
 * queued task {@code {tid}}; they are sent exactly as written (percent-encoding included).
 */
@QuarkusTest
@TestProfile(QuietLedgerProfile.class)
@QuarkusTestResource(value = InfraResource.class, restrictToAnnotatedClass = false)
class BadInputIT {
  static final String OK_URL = "http://127.0.0.1:9/bad-input";
  private static final String TEN_MB = "a".repeat(10_000_000);

  @TestHTTPResource("/")
  URI base;

  @Inject AgroalDataSource db;
  @Inject ApiConfig config;

  private static String sid;
  private static String tid;

  /** One request and what it must be answered. {@code field} null: no field to name. */
  record Case(
      String name,
      String method,
      String path,
      Map<String, String> headers,
      byte[] body,
      int status,
      String field) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> catalogue() {
    List<Case> cases = new ArrayList<>();
    submitCases(cases);
    sessionCases(cases);
    objectCases(cases);
    taskIdCases(cases);
    sessionIdCases(cases);
    queryCases(cases);
    return cases.stream();
  }

  // ----------------------------------------------------------------------- POST …/tasks

  private static void submitCases(List<Case> c) {
    // Malformed JSON, and JSON that is not one task object.
    submit(c, "malformed JSON", "{not json", "$");
    submit(c, "truncated JSON", "{\"type\":\"download\",\"url\":\"" + OK_URL, "*");
    submit(c, "trailing garbage after the object", download(OK_URL) + " trailing", "$");
    submit(c, "two objects", download(OK_URL) + download(OK_URL), "$");
    submit(c, "a duplicate key", task("\"type\":\"upload\""), "*");
    submit(c, "empty body", "", "$");
    submit(c, "JSON null", "null", "$");
    submit(c, "JSON array", "[]", "$");
    submit(c, "JSON string", "\"download\"", "$");
    submit(c, "JSON number", "42", "$");
    submit(c, "raw control character in a string", task("\"description\":\"a\u0001b\""), "*");
    submit(c, "raw newline in the url string", download("http://127.0.0.1:9/a\nb"), "*");
    c.add(
        new Case(
            "invalid UTF-8",
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "application/json"),
            bytes("{\"type\":\"download\",\"url\":\"http://127.0.0.1:9/", 0xff, 0xfe, "\"}"),
            400,
            "*"));
    submit(c, "nesting 100,000 deep", task("\"metadata\":" + "[".repeat(100_000)), "*");
    // Bodies of 10 MB (just under the 10 MiB limit, so they are parsed) and over it.
    submit(c, "10 MB description", task("\"description\":\"" + TEN_MB + "\""), "description");
    submit(c, "10 MB url", download("http://127.0.0.1:9/" + TEN_MB), "url");
    submit(c, "10 MB metadata", task("\"metadata\":{\"k\":\"" + TEN_MB + "\"}"), "metadata");
    submit(
        c, "10 MB header value", task("\"headers\":{\"X-A\":\"" + TEN_MB + "\"}"), "headers.X-A");
    submit(c, "10 MB of whitespace around an empty object", " ".repeat(10_000_000) + "{}", "type");
    submit(c, "10 MB number", task("\"expectedBytes\":" + "9".repeat(10_000_000)), "*");
    c.add(
        new Case(
            "11 MiB body",
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "application/json"),
            task("\"description\":\"" + "a".repeat(11 << 20) + "\"")
                .getBytes(StandardCharsets.UTF_8),
            413,
            "$"));
    // Missing and unknown fields.
    submit(c, "empty object", "{}", "type");
    submit(c, "no url", "{\"type\":\"download\"}", "url");
    submit(c, "no type", "{\"url\":\"" + OK_URL + "\"}", "type");
    submit(
        c, "upload without source", "{\"type\":\"upload\",\"url\":\"" + OK_URL + "\"}", "source");
    submit(c, "upload with an empty source", upload("{}"), "source");
    submit(c, "unknown field", task("\"color\":\"red\""), "color");
    submit(c, "unknown nested field", upload("{\"object\":\"obj\",\"x\":1}"), "source.x");
    submit(c, "misspelt field", task("\"Priority\":0.5"), "Priority");
    // Wrong types.
    submit(c, "type as a number", "{\"type\":0,\"url\":\"" + OK_URL + "\"}", "type");
    submit(c, "type unknown", "{\"type\":\"teleport\",\"url\":\"" + OK_URL + "\"}", "type");
    submit(c, "type as an array", "{\"type\":[\"download\"],\"url\":\"" + OK_URL + "\"}", "type");
    submit(c, "url as a number", "{\"type\":\"download\",\"url\":12}", "url");
    submit(c, "url as an object", "{\"type\":\"download\",\"url\":{}}", "url");
    submit(c, "priority as a word", task("\"priority\":\"high\""), "priority");
    submit(c, "priority as a numeric string", task("\"priority\":\"0.5\""), "priority");
    submit(c, "priority as a boolean", task("\"priority\":true"), "priority");
    submit(c, "expectedBytes as a string", task("\"expectedBytes\":\"10\""), "expectedBytes");
    submit(c, "expectedBytes as a fraction", task("\"expectedBytes\":1.5"), "expectedBytes");
    submit(c, "expectedBytes as a boolean", task("\"expectedBytes\":true"), "expectedBytes");
    submit(c, "headers as an array", task("\"headers\":[]"), "headers");
    submit(c, "headers as a string", task("\"headers\":\"Authorization: x\""), "headers");
    submit(c, "header value as a number", task("\"headers\":{\"X-A\":1}"), "headers.X-A");
    submit(c, "header value as an object", task("\"headers\":{\"X-A\":{}}"), "headers.X-A");
    submit(c, "header value null", task("\"headers\":{\"X-A\":null}"), "headers.X-A");
    submit(c, "metadata as a string", task("\"metadata\":\"x\""), "metadata");
    submit(c, "metadata as an array", task("\"metadata\":[1]"), "metadata");
    submit(c, "description as a number", task("\"description\":5"), "description");
    submit(c, "description as an object", task("\"description\":{}"), "description");
    submit(c, "source as a string", upload("\"obj\""), "source");
    submit(c, "source.task as a number", upload("{\"task\":7}"), "source.task");
    submit(c, "earliestBeginAt as a boolean", task("\"earliestBeginAt\":true"), "earliestBeginAt");
    submit(c, "earliestBeginAt as a number", task("\"earliestBeginAt\":1e300"), "earliestBeginAt");
    submit(c, "resumeData as a number", task("\"resumeData\":5"), "resumeData");
    // URLs.
    submit(c, "url with CR LF", download("http://127.0.0.1:9/a\\r\\nX-Injected: 1"), "url");
    submit(c, "url with LF", download("http://127.0.0.1:9/a\\nb"), "url");
    submit(c, "url with CR", download("http://127.0.0.1:9/a\\rb"), "url");
    submit(c, "url with CR LF in the host", download("http://127.0.0.1\\r\\n:9/"), "url");
    submit(c, "url with NUL", download("http://127.0.0.1:9/a\\u0000b"), "url");
    submit(c, "url with a tab", download("http://127.0.0.1:9/a\\tb"), "url");
    submit(c, "url with NEL (U+0085)", download("http://127.0.0.1:9/a\\u0085b"), "url");
    submit(c, "url with U+2028", download("http://127.0.0.1:9/a\\u2028b"), "url");
    submit(c, "url with a space", download("http://127.0.0.1:9/a b"), "url");
    submit(c, "url with percent-encoded CR LF in the host", download("http://a%0d%0a.b/"), "url");
    submit(c, "url empty", download(""), "url");
    submit(c, "url relative", download("/etc/passwd"), "url");
    submit(c, "url without host", download("http:///x"), "url");
    submit(c, "url with credentials", download("http://user:pw@127.0.0.1:9/"), "url");
    submit(
        c, "url of 10,000 characters", download("http://127.0.0.1:9/" + "a".repeat(10_000)), "url");
    submit(c, "url not a URL", download("http://[::1"), "url");
    for (String scheme :
        List.of(
            "file:///etc/passwd",
            "FILE:///etc/passwd",
            "file://localhost/etc/passwd",
            "ftp://127.0.0.1:9/x",
            "gopher://127.0.0.1:9/_x",
            "jar:http://127.0.0.1:9/a.jar!/x",
            "jar:file:///tmp/a.jar!/x",
            "javascript:alert(1)",
            "data:text/plain,hello",
            "ws://127.0.0.1:9/",
            "ldap://127.0.0.1:9/",
            "dict://127.0.0.1:9/",
            "netdoc:///etc/passwd",
            "//127.0.0.1:9/x")) {
      submit(c, "scheme " + scheme, download(scheme), "url");
    }
    upload(c, "upload to file:", "file:///tmp/x", "url");
    upload(c, "upload to gopher:", "gopher://127.0.0.1:9/", "url");
    // Request headers.
    submit(c, "header name with CR LF", headers("\"X-A\\r\\nX-B\":\"v\""), "headers.*");
    submit(c, "header name with LF", headers("\"X-A\\n\":\"v\""), "headers.*");
    submit(c, "header name with a colon", headers("\"X-A:\":\"v\""), "headers.*");
    submit(c, "header name with a space", headers("\"X A\":\"v\""), "headers.*");
    submit(c, "header name empty", headers("\"\":\"v\""), "headers.*");
    submit(
        c,
        "header name of 10,000 characters",
        headers("\"" + "X".repeat(10_000) + "\":\"v\""),
        "headers.*");
    submit(c, "header value with CR LF", headers("\"X-A\":\"a\\r\\nX-B: 1\""), "headers.X-A");
    submit(c, "header value with LF", headers("\"X-A\":\"a\\nb\""), "headers.X-A");
    submit(c, "header value with CR", headers("\"X-A\":\"a\\rb\""), "headers.X-A");
    submit(c, "header value with NUL", headers("\"X-A\":\"a\\u0000b\""), "headers.X-A");
    submit(
        c,
        "header value with a control character",
        headers("\"X-A\":\"a\\u0001b\""),
        "headers.X-A");
    submit(c, "header value with DEL", headers("\"X-A\":\"a\\u007fb\""), "headers.X-A");
    submit(c, "header value beyond Latin-1", headers("\"X-A\":\"\\u2028\""), "headers.X-A");
    submit(c, "reserved header Host", headers("\"Host\":\"x\""), "headers.Host");
    submit(
        c,
        "reserved header Transfer-Encoding",
        headers("\"transfer-encoding\":\"chunked\""),
        "headers.transfer-encoding");
    submit(c, "65 headers", headers(manyHeaders(65)), "headers");
    // Priority, expectedBytes, sha256.
    submit(c, "priority below 0", task("\"priority\":-0.1"), "priority");
    submit(c, "priority above 1", task("\"priority\":1.0001"), "priority");
    submit(c, "priority 2", task("\"priority\":2"), "priority");
    submit(c, "priority 1e400", task("\"priority\":1e400"), "priority");
    submit(c, "priority -1e400", task("\"priority\":-1e400"), "priority");
    submit(c, "expectedBytes negative", task("\"expectedBytes\":-1"), "expectedBytes");
    submit(
        c,
        "expectedBytes above 1 PiB",
        task("\"expectedBytes\":1125899906842625"),
        "expectedBytes");
    submit(
        c,
        "expectedBytes Long.MAX_VALUE",
        task("\"expectedBytes\":9223372036854775807"),
        "expectedBytes");
    submit(
        c,
        "expectedBytes beyond a long",
        task("\"expectedBytes\":99999999999999999999"),
        "expectedBytes");
    submit(c, "expectedBytes 1e20", task("\"expectedBytes\":1e20"), "expectedBytes");
    submit(
        c,
        "expectedBytes on an upload",
        upload("{\"object\":\"obj\"}", "\"expectedBytes\":1"),
        "expectedBytes");
    submit(c, "sha256 too short", task("\"sha256\":\"abc\""), "sha256");
    submit(c, "sha256 of 65 digits", task("\"sha256\":\"" + "a".repeat(65) + "\""), "sha256");
    submit(c, "sha256 not hex", task("\"sha256\":\"" + "g".repeat(64) + "\""), "sha256");
    submit(c, "sha256 with a space", task("\"sha256\":\" " + "a".repeat(63) + "\""), "sha256");
    submit(c, "sha256 empty", task("\"sha256\":\"\""), "sha256");
    submit(
        c,
        "sha256 base64",
        task("\"sha256\":\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\""),
        "sha256");
    // Dates.
    submit(
        c, "earliestBeginAt a word", task("\"earliestBeginAt\":\"tomorrow\""), "earliestBeginAt");
    submit(
        c,
        "earliestBeginAt month 13",
        task("\"earliestBeginAt\":\"2026-13-01T00:00:00Z\""),
        "earliestBeginAt");
    submit(
        c,
        "earliestBeginAt a date only",
        task("\"earliestBeginAt\":\"2026-01-01\""),
        "earliestBeginAt");
    submit(
        c,
        "earliestBeginAt without a zone",
        task("\"earliestBeginAt\":\"2026-01-01T00:00:00\""),
        "earliestBeginAt");
    submit(c, "earliestBeginAt empty", task("\"earliestBeginAt\":\"\""), "earliestBeginAt");
    submit(
        c,
        "earliestBeginAt year 999999999",
        task("\"earliestBeginAt\":\"+999999999-12-31T23:59:59Z\""),
        "earliestBeginAt");
    submit(
        c,
        "earliestBeginAt year 300000",
        task("\"earliestBeginAt\":\"+300000-01-01T00:00:00Z\""),
        "earliestBeginAt");
    submit(
        c,
        "earliestBeginAt before year 0",
        task("\"earliestBeginAt\":\"-5000-01-01T00:00:00Z\""),
        "earliestBeginAt");
    // Text fields PostgreSQL cannot store, or that are too long.
    submit(c, "description with NUL", task("\"description\":\"a\\u0000b\""), "description");
    submit(
        c,
        "description with a lone surrogate",
        task("\"description\":\"a\\ud800b\""),
        "description");
    submit(
        c,
        "description of 1025 characters",
        task("\"description\":\"" + "d".repeat(1025) + "\""),
        "description");
    submit(c, "metadata value with NUL", task("\"metadata\":{\"k\":\"a\\u0000b\"}"), "metadata");
    submit(c, "metadata key with NUL", task("\"metadata\":{\"a\\u0000b\":1}"), "metadata");
    submit(
        c, "metadata with a lone surrogate", task("\"metadata\":{\"k\":\"\\udc00\"}"), "metadata");
    submit(
        c,
        "metadata 200 levels deep",
        task("\"metadata\":{\"k\":" + "[".repeat(200) + "]".repeat(200) + "}"),
        "metadata");
    submit(
        c,
        "metadata over 16 KiB",
        task("\"metadata\":{\"k\":\"" + "m".repeat(17_000) + "\"}"),
        "metadata");
    // Download and upload specifics.
    submit(c, "download with method DELETE", task("\"method\":\"DELETE\""), "method");
    submit(c, "download with a source", task("\"source\":{\"object\":\"obj\"}"), "source");
    submit(
        c,
        "upload with method GET",
        upload("{\"object\":\"obj\"}", "\"method\":\"GET\""),
        "method");
    submit(
        c,
        "upload with method put",
        upload("{\"object\":\"obj\"}", "\"method\":\"put\""),
        "method");
    submit(
        c,
        "upload naming task and object",
        upload("{\"object\":\"obj\",\"task\":\"" + UUID.randomUUID() + "\"}"),
        "source");
    submit(
        c,
        "upload with an unknown resumable protocol",
        upload("{\"object\":\"obj\"}", "\"resumable\":\"s3\""),
        "resumable");
    submit(
        c,
        "resumable upload with method PUT",
        upload("{\"object\":\"obj\"}", "\"resumable\":\"tus\",\"method\":\"PUT\""),
        "method");
    submit(c, "download with a resumable protocol", task("\"resumable\":\"tus\""), "resumable");
    for (String key :
        List.of(
            "../other",
            "a/../../b",
            "/abs",
            "trailing/",
            "a//b",
            ".",
            "",
            "white space",
            "percent%2F",
            "back\\\\slash",
            "nul\\u0000",
            "k".repeat(513))) {
      submit(
          c,
          "download with destination key " + key.substring(0, Math.min(key.length(), 20)),
          task("\"destination\":{\"key\":\"" + key + "\"}"),
          "destination.key");
    }
    submit(
        c, "download with destination and no key", task("\"destination\":{}"), "destination.key");
    submit(
        c,
        "upload with a destination",
        upload("{\"object\":\"obj\"}", "\"destination\":{\"key\":\"a\"}"),
        "destination");
    submit(c, "upload source.task not a UUID", upload("{\"task\":\"x\"}"), "source.task");
    submit(
        c,
        "upload source.task unknown",
        upload("{\"task\":\"" + UUID.randomUUID() + "\"}"),
        "source.task");
    submit(
        c,
        "upload source.object unknown",
        upload("{\"object\":\"nothing-here\"}"),
        "source.object");
    submit(c, "upload source.object ..", upload("{\"object\":\"..\"}"), "source.object");
    submit(c, "upload source.object with /", upload("{\"object\":\"a/b\"}"), "source.object");
    submit(
        c, "upload source.object with NUL", upload("{\"object\":\"a\\u0000b\"}"), "source.object");
    submit(
        c,
        "upload source.object of 10,000 characters",
        upload("{\"object\":\"" + "o".repeat(10_000) + "\"}"),
        "source.object");
    submit(c, "upload source.object empty", upload("{\"object\":\"\"}"), "source.object");
    submit(
        c,
        "upload with resumeData",
        upload("{\"object\":\"obj\"}", "\"resumeData\":\"AAAA\""),
        "resumeData");
    submit(
        c,
        "upload with sha256",
        upload("{\"object\":\"obj\"}", "\"sha256\":\"" + "a".repeat(64) + "\""),
        "sha256");
    submit(c, "resumeData not base64url", task("\"resumeData\":\"!!!\""), "resumeData");
    submit(c, "resumeData empty", task("\"resumeData\":\"\""), "resumeData");
    // {"v":1,"task":"<a NUL>","epoch":1,"bytes":1}: a forged pointer whose task id reached
    // PostgreSQL (a 503) before task ids were checked first.
    submit(
        c,
        "resumeData naming a task id with NUL",
        task("\"resumeData\":\"eyJ2IjoxLCJ0YXNrIjoiXHUwMDAwIiwiZXBvY2giOjEsImJ5dGVzIjoxfQ\""),
        "resumeData");
    submit(
        c,
        "resumeData of 5,000 characters",
        task("\"resumeData\":\"" + "A".repeat(5000) + "\""),
        "resumeData");
    submit(
        c,
        "resumeData that names nothing",
        "{\"type\":\"download\",\"resumeData\":\"AAAA\"}",
        "resumeData");
    // Headers of the call itself.
    c.add(
        call(
            "Idempotency-Key with a space",
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "application/json", "Idempotency-Key", "a b"),
            download(OK_URL),
            400,
            "Idempotency-Key"));
    c.add(
        call(
            "Idempotency-Key of 256 characters",
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "application/json", "Idempotency-Key", "k".repeat(256)),
            download(OK_URL),
            400,
            "Idempotency-Key"));
    c.add(
        call(
            "Idempotency-Key empty",
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "application/json", "Idempotency-Key", ""),
            download(OK_URL),
            400,
            "Idempotency-Key"));
    c.add(
        call(
            "text/plain body",
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "text/plain"),
            download(OK_URL),
            415,
            null));
    c.add(
        call(
            "Content-Type garbage",
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "]]]"),
            download(OK_URL),
            415,
            null));
    c.add(
        call(
            "unknown session",
            "POST",
            "/v1/sessions/no-such-" + UUID.randomUUID() + "/tasks",
            Map.of("Content-Type", "application/json"),
            download(OK_URL),
            404,
            null));
  }

  // ----------------------------------------------------------------------- PUT /v1/sessions/{sid}

  private static void sessionCases(List<Case> c) {
    session(c, "malformed JSON", "{\"retry\":", "$");
    session(c, "trailing garbage", "{} {}", "$");
    session(c, "JSON array", "[]", "$");
    session(c, "JSON string", "\"x\"", "$");
    session(c, "10 MB header value", "{\"headers\":{\"X-A\":\"" + TEN_MB + "\"}}", "headers.X-A");
    session(
        c,
        "10 MB unknown field",
        "{\"" + "f".repeat(100) + "\":\"" + TEN_MB + "\"}",
        "f".repeat(100));
    c.add(
        call(
            "11 MiB body",
            "PUT",
            "/v1/sessions/{sid}",
            Map.of("Content-Type", "application/json"),
            "{\"headers\":{\"X-A\":\"" + "a".repeat(11 << 20) + "\"}}",
            413,
            "$"));
    session(c, "unknown field", "{\"colour\":1}", "colour");
    session(c, "unknown retry field", "{\"retry\":{\"tries\":3}}", "retry.tries");
    session(
        c,
        "maxConcurrentTransfers as a string",
        "{\"maxConcurrentTransfers\":\"5\"}",
        "maxConcurrentTransfers");
    session(
        c,
        "maxConcurrentTransfers as a fraction",
        "{\"maxConcurrentTransfers\":1.5}",
        "maxConcurrentTransfers");
    session(
        c,
        "maxConcurrentTransfers beyond an int",
        "{\"maxConcurrentTransfers\":99999999999}",
        "maxConcurrentTransfers");
    session(
        c, "maxConcurrentTransfers 0", "{\"maxConcurrentTransfers\":0}", "maxConcurrentTransfers");
    session(
        c,
        "maxConnectionsPerHost negative",
        "{\"maxConnectionsPerHost\":-1}",
        "maxConnectionsPerHost");
    session(
        c,
        "maxConnectionsPerHost 1001",
        "{\"maxConnectionsPerHost\":1001}",
        "maxConnectionsPerHost");
    session(c, "discretionary as a string", "{\"discretionary\":\"yes\"}", "discretionary");
    session(c, "discretionary as a number", "{\"discretionary\":1}", "discretionary");
    session(c, "sendsEvents as the string true", "{\"sendsEvents\":\"true\"}", "sendsEvents");
    session(c, "retry as a number", "{\"retry\":5}", "retry");
    session(c, "retry.maxAttempts 0", "{\"retry\":{\"maxAttempts\":0}}", "retry.maxAttempts");
    session(c, "retry.maxAttempts 101", "{\"retry\":{\"maxAttempts\":101}}", "retry.maxAttempts");
    session(c, "headers as an array", "{\"headers\":[]}", "headers");
    session(c, "header name with CR LF", "{\"headers\":{\"X-A\\r\\nX-B\":\"v\"}}", "headers.*");
    session(
        c, "header value with CR LF", "{\"headers\":{\"X-A\":\"a\\r\\nX-B: 1\"}}", "headers.X-A");
    session(c, "header value with NUL", "{\"headers\":{\"X-A\":\"\\u0000\"}}", "headers.X-A");
    session(c, "header value as a number", "{\"headers\":{\"X-A\":1}}", "headers.X-A");
    session(
        c,
        "header value as the redaction mark",
        "{\"headers\":{\"Authorization\":\"***\"}}",
        "headers.Authorization");
    session(
        c,
        "reserved header Connection",
        "{\"headers\":{\"Connection\":\"close\"}}",
        "headers.Connection");
    // Durations.
    session(c, "requestTimeout a word", "{\"requestTimeout\":\"forever\"}", "requestTimeout");
    session(c, "requestTimeout in words", "{\"requestTimeout\":\"5 seconds\"}", "requestTimeout");
    session(c, "requestTimeout empty", "{\"requestTimeout\":\"\"}", "requestTimeout");
    session(c, "requestTimeout negative", "{\"requestTimeout\":\"PT-5S\"}", "requestTimeout");
    session(c, "requestTimeout zero", "{\"requestTimeout\":\"PT0S\"}", "requestTimeout");
    session(c, "requestTimeout of 100 days", "{\"requestTimeout\":\"P100D\"}", "requestTimeout");
    session(c, "requestTimeout as a boolean", "{\"requestTimeout\":true}", "requestTimeout");
    session(c, "requestTimeout as a number", "{\"requestTimeout\":1e300}", "requestTimeout");
    session(
        c,
        "requestTimeout beyond a Duration",
        "{\"requestTimeout\":\"PT99999999999999999999S\"}",
        "requestTimeout");
    session(c, "resourceTimeout of 31 days", "{\"resourceTimeout\":\"P31D\"}", "resourceTimeout");
    session(
        c,
        "resourceTimeout a date",
        "{\"resourceTimeout\":\"2026-01-01T00:00:00Z\"}",
        "resourceTimeout");
    session(
        c,
        "retry.initialBackoff a word",
        "{\"retry\":{\"initialBackoff\":\"soon\"}}",
        "retry.initialBackoff");
    session(
        c,
        "retry.maxBackoff of 2 days",
        "{\"retry\":{\"maxBackoff\":\"P2D\"}}",
        "retry.maxBackoff");
    session(
        c,
        "retry.initialBackoff above maxBackoff",
        "{\"retry\":{\"initialBackoff\":\"PT10M\",\"maxBackoff\":\"PT1M\"}}",
        "retry.initialBackoff");
    c.add(
        call(
            "text/plain body",
            "PUT",
            "/v1/sessions/{sid}",
            Map.of("Content-Type", "text/plain"),
            "{}",
            415,
            null));
  }

  // ----------------------------------------------------------------------- objects

  private static void objectCases(List<Case> c) {
    Map<String, String> bytes = Map.of("Content-Type", "application/octet-stream");
    String objects = "/v1/sessions/{sid}/objects/";
    // Names. A literal ".." segment is resolved by the client (RFC 3986) before it is sent, and
    // %2E%2E by the server: either way the request no longer names an object (see dotSegments).
    for (String[] name :
        new String[][] {
          {"..foo", "leading dots"},
          {".hidden", "a leading dot"},
          {"a%2Fb", "an encoded /"},
          {"a%2F..%2Fb", "an encoded /../"},
          {"a%5Cb", "a backslash"},
          {"a%00b", "NUL"},
          {"a%0D%0Ab", "CR LF"},
          {"a%20b", "a space"},
          {"a%25Hb", "an encoded %"},
          {"%C3%A9", "a non-ASCII letter"},
          {"a".repeat(201), "201 characters"},
          {"a".repeat(10_000), "10,000 characters"},
        }) {
      c.add(
          call(
              "object PUT name with " + name[1],
              "PUT",
              objects + name[0],
              bytes,
              "x",
              400,
              "name"));
      c.add(
          call(
              "object GET name with " + name[1],
              "GET",
              objects + name[0],
              Map.of(),
              null,
              400,
              "name"));
      c.add(
          call(
              "object HEAD name with " + name[1],
              "HEAD",
              objects + name[0],
              Map.of(),
              null,
              400,
              null));
      c.add(
          call(
              "object DELETE name with " + name[1],
              "DELETE",
              objects + name[0],
              Map.of(),
              null,
              400,
              "name"));
    }
    c.add(
        call(
            "object PUT with a bad Repr-Digest",
            "PUT",
            objects + "o2",
            Map.of("Repr-Digest", "sha-256=nope"),
            "x",
            400,
            "Repr-Digest"));
    c.add(
        call(
            "object PUT with a short Repr-Digest",
            "PUT",
            objects + "o2",
            Map.of("Repr-Digest", "sha-256=:AAAA:"),
            "x",
            400,
            "Repr-Digest"));
    c.add(
        call(
            "object PUT with a bad X-Checksum-SHA256",
            "PUT",
            objects + "o2",
            Map.of("X-Checksum-SHA256", "xyz"),
            "x",
            400,
            "X-Checksum-SHA256"));
    c.add(
        call(
            "object PUT whose digest does not match",
            "PUT",
            objects + "o2",
            Map.of("X-Checksum-SHA256", "0".repeat(64)),
            "x",
            400,
            "X-Checksum-SHA256"));
    c.add(
        call(
            "object PUT to an unknown session",
            "PUT",
            "/v1/sessions/no-such-" + UUID.randomUUID() + "/objects/o2",
            bytes,
            "x",
            404,
            null));
  }

  // ----------------------------------------------------------------------- task ids

  private static void taskIdCases(List<Case> c) {
    String tasks = "/v1/sessions/{sid}/tasks/";
    for (String[] id :
        new String[][] {
          {"not-a-uuid", "a word"},
          {"%00", "NUL"},
          {"a%0D%0Ab", "CR LF"},
          {UUID.randomUUID().toString().toUpperCase() + "0", "37 characters"},
          {"x".repeat(10_000), "10,000 characters"},
          {"%27%20or%201%3D1--", "SQL"},
          {"%25zz", "an encoded %"},
        }) {
      c.add(call("GET task " + id[1], "GET", tasks + id[0], Map.of(), null, 404, "taskId"));
      c.add(
          call(
              "GET content of task " + id[1],
              "GET",
              tasks + id[0] + "/content",
              Map.of(),
              null,
              404,
              "taskId"));
      c.add(
          call(
              "cancel task " + id[1],
              "POST",
              tasks + id[0] + "/cancel",
              Map.of(),
              null,
              404,
              "taskId"));
      c.add(
          call(
              "suspend task " + id[1],
              "POST",
              tasks + id[0] + "/suspend",
              Map.of(),
              null,
              404,
              "taskId"));
      c.add(
          call(
              "resume task " + id[1],
              "POST",
              tasks + id[0] + "/resume",
              Map.of(),
              null,
              404,
              "taskId"));
    }
    String cancel = tasks + "{tid}/cancel";
    Map<String, String> json = Map.of("Content-Type", "application/json");
    c.add(call("cancel body malformed", "POST", cancel, json, "{nope", 400, "$"));
    c.add(call("cancel body trailing garbage", "POST", cancel, json, "{} x", 400, "$"));
    c.add(call("cancel body an array", "POST", cancel, json, "[]", 400, "$"));
    c.add(
        call("cancel body unknown field", "POST", cancel, json, "{\"force\":true}", 400, "force"));
    c.add(
        call(
            "cancel produceResumeData as a string",
            "POST",
            cancel,
            json,
            "{\"produceResumeData\":\"yes\"}",
            400,
            "produceResumeData"));
    c.add(
        call(
            "cancel produceResumeData as a number",
            "POST",
            cancel,
            json,
            "{\"produceResumeData\":1}",
            400,
            "produceResumeData"));
    c.add(call("cancel body of 10 MB", "POST", cancel, json, "{\"" + TEN_MB + "\":1}", 400, "*"));
    c.add(
        call(
            "cancel body of 11 MiB",
            "POST",
            cancel,
            json,
            "{\"x\":\"" + "a".repeat(11 << 20) + "\"}",
            413,
            "$"));
  }

  // ----------------------------------------------------------------------- session ids

  private static void sessionIdCases(List<Case> c) {
    for (String[] id :
        new String[][] {
          {"bad%20id", "a space"},
          {"-x", "a leading dash"},
          {".x", "a leading dot"},
          {"_x", "a leading underscore"},
          {"a%2Fb", "an encoded /"},
          {"a%00b", "NUL"},
          {"a%0D%0Ab", "CR LF"},
          {"%C3%A9t%C3%A9", "non-ASCII letters"},
          {"a%3Bb", "a semicolon"},
          {"%27%20or%201%3D1--", "SQL"},
          {"a%25Hb", "an encoded % before a non-hex digit"},
          {"a%2541", "an encoded % before hex digits"},
          {"s".repeat(129), "129 characters"},
          {"s".repeat(10_000), "10,000 characters"},
        }) {
      String s = "/v1/sessions/" + id[0];
      c.add(
          call(
              "session PUT id with " + id[1],
              "PUT",
              s,
              Map.of("Content-Type", "application/json"),
              "{}",
              400,
              "sessionId"));
      c.add(call("session GET id with " + id[1], "GET", s, Map.of(), null, 400, "sessionId"));
      c.add(call("session DELETE id with " + id[1], "DELETE", s, Map.of(), null, 400, "sessionId"));
      c.add(
          call(
              "task submit session id with " + id[1],
              "POST",
              s + "/tasks",
              Map.of("Content-Type", "application/json"),
              download(OK_URL),
              400,
              "sessionId"));
      c.add(
          call(
              "task list session id with " + id[1],
              "GET",
              s + "/tasks",
              Map.of(),
              null,
              400,
              "sessionId"));
      c.add(
          call(
              "task GET session id with " + id[1],
              "GET",
              s + "/tasks/" + UUID.randomUUID(),
              Map.of(),
              null,
              400,
              "sessionId"));
      c.add(
          call(
              "task cancel session id with " + id[1],
              "POST",
              s + "/tasks/" + UUID.randomUUID() + "/cancel",
              Map.of(),
              null,
              400,
              "sessionId"));
      c.add(
          call(
              "object PUT session id with " + id[1],
              "PUT",
              s + "/objects/o",
              Map.of("Content-Type", "application/octet-stream"),
              "x",
              400,
              "sessionId"));
      c.add(
          call(
              "object GET session id with " + id[1],
              "GET",
              s + "/objects/o",
              Map.of(),
              null,
              400,
              "sessionId"));
      c.add(
          call(
              "events session id with " + id[1],
              "GET",
              s + "/events",
              Map.of(),
              null,
              400,
              "sessionId"));
      c.add(
          call(
              "event stream session id with " + id[1],
              "GET",
              s + "/events/stream",
              Map.of(),
              null,
              400,
              "sessionId"));
    }
  }

  // ----------------------------------------------------------------------- query parameters

  private static void queryCases(List<Case> c) {
    c.add(call("unknown path with an encoded %", "GET", "/v1/x%25H", Map.of(), null, 404, null));
    c.add(
        call(
            "unknown path with an encoded % after a session",
            "POST",
            "/v1/sessions/{sid}/x%25%25",
            Map.of("Content-Type", "application/json"),
            "{}",
            404,
            null));
    c.add(
        call(
            "sessions limit a word",
            "GET",
            "/v1/sessions?limit=many",
            Map.of(),
            null,
            400,
            "limit"));
    c.add(call("sessions limit 0", "GET", "/v1/sessions?limit=0", Map.of(), null, 400, "limit"));
    c.add(
        call(
            "sessions limit beyond a long",
            "GET",
            "/v1/sessions?limit=99999999999999999999",
            Map.of(),
            null,
            400,
            "limit"));
    c.add(
        call(
            "sessions after not an id",
            "GET",
            "/v1/sessions?after=a%20b",
            Map.of(),
            null,
            400,
            "after"));
    c.add(
        call(
            "tasks state unknown",
            "GET",
            "/v1/sessions/{sid}/tasks?state=done",
            Map.of(),
            null,
            400,
            "state"));
    c.add(
        call(
            "tasks limit negative",
            "GET",
            "/v1/sessions/{sid}/tasks?limit=-1",
            Map.of(),
            null,
            400,
            "limit"));
    c.add(
        call(
            "tasks after not a task id",
            "GET",
            "/v1/sessions/{sid}/tasks?after=x",
            Map.of(),
            null,
            400,
            "after"));
    c.add(
        call(
            "tasks after an unknown task",
            "GET",
            "/v1/sessions/{sid}/tasks?after=" + UUID.randomUUID(),
            Map.of(),
            null,
            400,
            "after"));
    c.add(
        call(
            "session DELETE finishTasks a word",
            "DELETE",
            "/v1/sessions/{sid}?finishTasks=maybe",
            Map.of(),
            null,
            400,
            "finishTasks"));
    c.add(
        call(
            "events after negative",
            "GET",
            "/v1/sessions/{sid}/events?after=-1",
            Map.of(),
            null,
            400,
            "after"));
    c.add(
        call(
            "events after a word",
            "GET",
            "/v1/sessions/{sid}/events?after=x",
            Map.of(),
            null,
            400,
            "after"));
    c.add(
        call(
            "events limit 1001",
            "GET",
            "/v1/sessions/{sid}/events?limit=1001",
            Map.of(),
            null,
            400,
            "limit"));
    c.add(
        call(
            "event stream after a word",
            "GET",
            "/v1/sessions/{sid}/events/stream?after=x",
            Map.of(),
            null,
            400,
            "after"));
    c.add(
        call(
            "event stream Last-Event-ID a word",
            "GET",
            "/v1/sessions/{sid}/events/stream",
            Map.of("Last-Event-ID", "x"),
            null,
            400,
            "Last-Event-ID"));
  }

  // ----------------------------------------------------------------------- the test

  @ParameterizedTest(name = "{0}")
  @MethodSource("catalogue")
  void isRefusedWithAProblemNamingTheFieldAndStoresNothing(Case k) throws Exception {
    RawClient api = fixture();
    StoredState state = new StoredState(db, config.storage().root());
    String path = k.path().replace("{sid}", sid).replace("{tid}", tid);
    StoredState.Snapshot before = state.take();

    RawClient.Answer a = api.send(k.method(), path, k.headers(), k.body());

    assertThat(a.status()).as("%s: status of %s", k.name(), a).isEqualTo(k.status());
    if (!k.method().equals("HEAD")) {
      assertThat(a.isProblem()).as("%s: problem+json: %s", k.name(), a).isTrue();
      assertThat(a.json().path("status").asInt())
          .as("%s: status member: %s", k.name(), a)
          .isEqualTo(k.status());
      if (k.field() != null) {
        assertThat(a.fields())
            .as("%s: errors naming %s: %s", k.name(), k.field(), a)
            .anyMatch(f -> matches(k.field(), f));
      }
    }
    StoredState.Snapshot after = state.take();
    assertThat(after)
        .as("stored state after %s: %s", k.name(), after.diff(before))
        .isEqualTo(before);
  }

  /**
   * A literal {@code ..} segment never reaches a resource: the client resolves it (RFC 3986), and
   * the server resolves {@code %2E%2E}, so {@code objects/%2E%2E} is the session itself. What
   * arrives is then an ordinary request to another resource, answered accordingly, and still
   * nothing is stored.
   */
  @Test
  void dotSegmentsAreResolvedBeforeRoutingAndStoreNothing() throws Exception {
    RawClient api = fixture();
    StoredState state = new StoredState(db, config.storage().root());
    StoredState.Snapshot before = state.take();
    Map<String, String> bytes = Map.of("Content-Type", "application/octet-stream");
    // PUT /v1/sessions/{sid} with a body that is not JSON: 415.
    RawClient.Answer a =
        api.send("PUT", "/v1/sessions/" + sid + "/objects/%2E%2E", bytes, "x".getBytes());
    assertThat(a.status()).as("%s", a).isEqualTo(415);
    assertThat(a.isProblem()).as("%s", a).isTrue();
    // GET /v1/sessions/{sid}/tasks/.. is the session's task list; /v1/sessions/.. is /v1/.
    a = api.send("GET", "/v1/sessions/%2E%2E/tasks", Map.of(), null);
    assertThat(a.status()).as("%s", a).isEqualTo(404);
    assertThat(a.isProblem()).as("%s", a).isTrue();
    a =
        api.send(
            "PUT",
            "/v1/sessions/%2e%2e",
            Map.of("Content-Type", "application/json"),
            "{}".getBytes());
    assertThat(a.status()).as("%s", a).isIn(404, 405);
    assertThat(a.isProblem()).as("%s", a).isTrue();
    assertThat(state.take()).isEqualTo(before);
  }

  /**
   * Percent-encoded CR and LF are legal URL syntax: the URL is accepted and stored as written, and
   * the worker sends its raw (still encoded) path, so no line break ever reaches the wire.
   */
  @Test
  void percentEncodedLineBreaksInAUrlStayEncoded() throws Exception {
    RawClient api = fixture();
    String url = "http://127.0.0.1:9/a%0D%0AX-Injected:%201?q=%0a";
    RawClient.Answer a = api.json("POST", "/v1/sessions/" + sid + "/tasks", download(url));
    assertThat(a.status()).as("%s", a).isEqualTo(201);
    assertThat(a.json().path("url").asText()).isEqualTo(url);
  }

  /** A body over the limit sent chunked (no Content-Length to refuse it by) is refused too. */
  @Test
  void aChunkedBodyOverTheLimitIsRefused() throws Exception {
    RawClient api = fixture();
    StoredState state = new StoredState(db, config.storage().root());
    StoredState.Snapshot before = state.take();
    byte[] body =
        task("\"description\":\"" + "a".repeat(11 << 20) + "\"").getBytes(StandardCharsets.UTF_8);
    for (String path : List.of("/v1/sessions/" + sid + "/tasks", "/v1/sessions/" + sid)) {
      RawClient.Answer a = api.sendChunked(path.endsWith("/tasks") ? "POST" : "PUT", path, body);
      assertThat(a.status()).as("%s", a).isEqualTo(413);
      assertThat(a.isProblem()).as("%s", a).isTrue();
    }
    assertThat(state.take()).isEqualTo(before);
  }

  @Test
  void theServiceStaysHealthy() throws Exception {
    RawClient.Answer a = fixture().sendExactly("GET", "/q/health", Map.of(), null);
    assertThat(a.status()).as("%s", a).isEqualTo(200);
    assertThat(a.json().path("status").asText()).isEqualTo("UP");
  }

  // ----------------------------------------------------------------------- helpers

  /** The session, its staged object and its queued task, made once for all cases. */
  private RawClient fixture() throws Exception {
    RawClient api = new RawClient(base);
    if (sid == null) {
      String s = "bad-input-" + UUID.randomUUID();
      RawClient.Answer a = api.json("PUT", "/v1/sessions/" + s, "{}");
      assertThat(a.status()).as("%s", a).isEqualTo(201);
      a =
          api.send(
              "PUT",
              "/v1/sessions/" + s + "/objects/obj",
              Map.of("Content-Type", "application/octet-stream"),
              "staged".getBytes());
      assertThat(a.status()).as("%s", a).isEqualTo(201);
      a = api.json("POST", "/v1/sessions/" + s + "/tasks", download(OK_URL));
      assertThat(a.status()).as("%s", a).isEqualTo(201);
      tid = a.json().path("id").asText();
      sid = s;
    }
    return api;
  }

  /**
   * {@code "*"} matches any named field (malformed JSON: where the parser stopped), {@code "x.*"}
   * any field under x, else equality.
   */
  static boolean matches(String expected, String field) {
    if (expected.equals("*")) {
      return !field.isEmpty();
    }
    if (expected.endsWith(".*")) {
      return field.startsWith(expected.substring(0, expected.length() - 1));
    }
    return expected.equals(field);
  }

  static String download(String url) {
    return "{\"type\":\"download\",\"url\":\"" + url + "\"}";
  }

  /** A valid download with these fields added. */
  static String task(String fields) {
    return "{\"type\":\"download\",\"url\":\"" + OK_URL + "\"," + fields + "}";
  }

  static String headers(String members) {
    return task("\"headers\":{" + members + "}");
  }

  static String upload(String source) {
    return upload(source, null);
  }

  static String upload(String source, String fields) {
    return "{\"type\":\"upload\",\"url\":\""
        + OK_URL
        + "\",\"source\":"
        + source
        + (fields == null ? "" : "," + fields)
        + "}";
  }

  private static String manyHeaders(int n) {
    List<String> members = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      members.add("\"X-H" + i + "\":\"v\"");
    }
    return String.join(",", members);
  }

  private static void submit(List<Case> c, String name, String body, String field) {
    c.add(
        call(
            "submit: " + name,
            "POST",
            "/v1/sessions/{sid}/tasks",
            Map.of("Content-Type", "application/json"),
            body,
            body.length() > (10 << 20) ? 413 : 400,
            field));
  }

  private static void upload(List<Case> c, String name, String url, String field) {
    submit(
        c,
        name,
        "{\"type\":\"upload\",\"url\":\"" + url + "\",\"source\":{\"object\":\"obj\"}}",
        field);
  }

  private static void session(List<Case> c, String name, String body, String field) {
    c.add(
        call(
            "session config: " + name,
            "PUT",
            "/v1/sessions/{sid}",
            Map.of("Content-Type", "application/json"),
            body,
            400,
            field));
  }

  static Case call(
      String name,
      String method,
      String path,
      Map<String, String> headers,
      String body,
      int status,
      String field) {
    return new Case(
        name,
        method,
        path,
        new LinkedHashMap<>(headers),
        body == null ? null : body.getBytes(StandardCharsets.UTF_8),
        status,
        field);
  }

  private static byte[] bytes(String head, int b1, int b2, String tail) {
    byte[] h = head.getBytes(StandardCharsets.UTF_8);
    byte[] t = tail.getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[h.length + 2 + t.length];
    System.arraycopy(h, 0, all, 0, h.length);
    all[h.length] = (byte) b1;
    all[h.length + 1] = (byte) b2;
    System.arraycopy(t, 0, all, h.length + 2, t.length);
    return all;
  }
}
