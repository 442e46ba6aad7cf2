package transfer.api.auth;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.util.Optional;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;
import transfer.api.problem.Problem;
import transfer.api.problem.RequestPaths;

/** Every {@code /v1} call carries {@code Authorization: Bearer <api key>}. */
public class ApiKeyFilter {
  private final ApiKeys keys;
  private final Caller caller;

  public ApiKeyFilter(ApiKeys keys, Caller caller) {
    this.keys = keys;
    this.caller = caller;
  }

  @ServerRequestFilter
  public Optional<Response> authenticate(ContainerRequestContext request) {
    String path = RequestPaths.of(request.getUriInfo());
    if (path != null && !path.startsWith("/v1")) {
      return Optional.empty();
    }
    String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Optional.of(unauthorized("send the API key as 'Authorization: Bearer <key>'"));
    }
    String key = header.substring(7).trim();
    if (key.isEmpty() || key.length() > 512) {
      return Optional.of(unauthorized("the API key is not valid"));
    }
    Optional<String> tenant = keys.tenantOf(key);
    if (tenant.isEmpty()) {
      return Optional.of(unauthorized("the API key is not valid or was revoked"));
    }
    caller.authenticate(tenant.get());
    return Optional.empty();
  }

  private static Response unauthorized(String detail) {
    return Response.status(401)
        .type(Problem.MEDIA_TYPE)
        .header(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
        .entity(
            new Problem(Problem.typeUri("unauthorized"), "Unauthorized", 401, detail, null, null))
        .build();
  }
}
