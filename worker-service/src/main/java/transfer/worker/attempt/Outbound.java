package transfer.worker.attempt;

/**
 * How an attempt reaches the other side: the HTTP clients (the shared one, or one with a session's
 * client certificate), the SSRF guard every request goes through, the most bytes a task may move
 * ({@code transfer.fetch.max-bytes}) and the redirects a download follows ({@code
 * transfer.worker.max-redirects}).
 */
record Outbound(OriginClients clients, Egress egress, long maxBytes, int maxRedirects) {}
