package transfer.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/**
 * What the attempt that finished a task cost on the wire (URLSession's {@code
 * URLSessionTaskMetrics}), on its {@code transfer.task.completed} event. Times are in milliseconds
 * and describe the attempt's last request (the one whose answer decided the task); a field is left
 * out when it did not happen (no new connection: no {@code connectMs}; plain HTTP: no {@code
 * tlsMs}).
 *
 * @param attempt the attempt these are of (1 for the first)
 * @param fetchStart when the attempt began
 * @param dnsMs resolving the origin's name and judging its addresses (the egress rules)
 * @param connectMs opening the connection (TCP; TLS too when {@code tlsMs} is left out), absent
 *     when a pooled connection was reused
 * @param tlsMs the TLS handshake of a new connection
 * @param firstByteMs from the request on its connection to the answer's headers (for an upload,
 *     sending the body is part of it)
 * @param transferMs from the answer's headers to the last byte of the attempt
 * @param totalMs from {@code fetchStart} to the last byte
 * @param redirects redirects followed
 * @param requests HTTP requests the attempt made (redirects, a resumable upload's HEAD or POST
 *     included)
 * @param remoteAddress the address and port the last request was connected to (a proxy's, through
 *     one)
 * @param protocol {@code http/1.1} or {@code h2}
 * @param reusedConnection whether the last request went on a connection opened before it
 * @param bytes body bytes this attempt moved
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TaskMetrics(
    int attempt,
    Instant fetchStart,
    Long dnsMs,
    Long connectMs,
    Long tlsMs,
    Long firstByteMs,
    Long transferMs,
    long totalMs,
    int redirects,
    int requests,
    String remoteAddress,
    String protocol,
    Boolean reusedConnection,
    long bytes) {}
