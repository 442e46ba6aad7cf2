package transfer.worker.attempt;

import io.vertx.core.http.HttpClient;

/**
 * How an attempt reaches the other side: the HTTP client, the SSRF guard every request goes
 * through, the most bytes a task may move ({@code transfer.fetch.max-bytes}) and the redirects a
 * download follows ({@code transfer.worker.max-redirects}).
 */
record Outbound(HttpClient client, Egress egress, long maxBytes, int maxRedirects) {}
