package transfer.api.auth;

import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.util.Optional;
import org.jboss.logging.MDC;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import transfer.api.problem.Problem;
import transfer.api.problem.RequestPaths;
import transfer.api.quota.QuotaExceeded;
import transfer.api.quota.RateLimiter;
import transfer.telemetry.LogFields;

/**
 * Every {@code /v1} call carries {@code Authorization: Bearer <key>}: a tenant's key on the tenant
 * endpoints (then the tenant's request rate is counted), the admin key on {@code /v1/admin}.
 * Neither kind of key opens the other's endpoints. With no admin key configured, {@code /v1/admin}
 * answers 404 whatever is sent.
 */
public class ApiKeyFilter {
  private final ApiKeys keys;
  private final AdminKey admin;
  private final RateLimiter rate;
  private final Caller caller;

  public ApiKeyFilter(ApiKeys keys, AdminKey admin, RateLimiter rate, Caller caller) {
    this.keys = keys;
    this.admin = admin;
    this.rate = rate;
    this.caller = caller;
  }

  /** Whether a request path belongs to the admin API. */
  public static boolean isAdminPath(String path) {
    return path.equals("/v1/admin") || path.startsWith("/v1/admin/");
  }

  /** {@link #authenticate(ContainerRequestContext, HttpServerRequest)} without a connection. */
  Optional<Response> authenticate(ContainerRequestContext request) {
    return authenticate(request, null);
  }

  @ServerRequestFilter
  public Optional<Response> authenticate(
      ContainerRequestContext request, HttpServerRequest connection) {
    // null: a path that does not decode; it is judged (and refused) like any /v1 path.
    String path = RequestPaths.of(request.getUriInfo());
    if (path != null && !path.startsWith("/v1")) {
      return Optional.empty();
    }
    boolean adminPath = path != null && isAdminPath(path);
    if (adminPath && !admin.enabled()) {
      return Optional.of(adminDisabled(path));
    }
    String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Optional.of(
          unauthorized(
              adminPath
                  ? "send the admin key as 'Authorization: Bearer <admin key>'"
                  : "send the API key as 'Authorization: Bearer <key>'"));
    }
    String key = header.substring(7).trim();
    if (key.isEmpty() || key.length() > 512) {
      return Optional.of(unauthorized("the API key is not valid"));
    }
    if (adminPath) {
      if (!admin.matches(key)) {
        return Optional.of(
            unauthorized(
                "the admin API takes the admin key (transfer.admin-key); tenant keys cannot call"
                    + " it"));
      }
      caller.authenticateAdmin();
      return Optional.empty();
    }
    if (admin.matches(key)) {
      return Optional.of(
          unauthorized(
              "this is the admin key: it manages tenants under /v1/admin and cannot call tenant"
                  + " endpoints; use an API key of the tenant"));
    }
    Optional<String> tenant;
    try {
      tenant = keys.tenantOf(key, clientAddress(connection));
    } catch (QuotaExceeded e) {
      return Optional.of(e.toResponse(path));
    }
    if (tenant.isEmpty()) {
      return Optional.of(unauthorized("the API key is not valid or was revoked"));
    }
    caller.authenticate(tenant.get());
    // A field of the request's log lines (RequestTracing removes it at the end of the request).
    MDC.put(LogFields.TENANT, tenant.get());
    try {
      rate.acquire(tenant.get());
    } catch (QuotaExceeded e) {
      return Optional.of(e.toResponse(path));
    }
    return Optional.empty();
  }

  /**
   * The key of an {@code Authorization: Bearer <key>} header, as {@link #authenticate} reads it;
   * empty when the header is missing or not Bearer, or its key is empty or longer than 512.
   */
  public static Optional<String> bearerKey(String header) {
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Optional.empty();
    }
    String key = header.substring(7).trim();
    return key.isEmpty() || key.length() > 512 ? Optional.empty() : Optional.of(key);
  }

  /** The client's address (the proxy's forwarded one when Quarkus is told to trust it). */
  public static String clientAddress(HttpServerRequest connection) {
    if (connection == null || connection.remoteAddress() == null) {
      return "unknown";
    }
    String host = connection.remoteAddress().hostAddress();
    return host != null ? host : connection.remoteAddress().host();
  }

  private static Response unauthorized(String detail) {
    return Response.status(401)
        .type(Problem.MEDIA_TYPE)
        .header(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
        .entity(
            new Problem(Problem.typeUri("unauthorized"), "Unauthorized", 401, detail, null, null))
        .build();
  }

  private static Response adminDisabled(String path) {
    return Response.status(404)
        .type(Problem.MEDIA_TYPE)
        .entity(
            new Problem(
                Problem.typeUri("admin-api-disabled"),
                "Not Found",
                404,
                "the admin API is disabled on this server: set transfer.admin-key"
                    + " (TRANSFER_ADMIN_KEY) to enable it",
                path,
                null))
        .build();
  }
}
