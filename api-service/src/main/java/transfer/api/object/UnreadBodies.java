package transfer.api.object;

import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import org.jboss.resteasy.reactive.server.ServerResponseFilter;

/**
 * An object PUT refused before its body was read (a bad key, an unknown session, a bad name, too
 * large, a broken body) leaves the rest of that body, possibly gigabytes, on the connection. Vert.x
 * keeps such a connection open and paused, so the client would wait with its body half sent until
 * the idle timeout. The answer says {@code Connection: close} instead, and the connection is closed
 * once the answer is out, as Quarkus does for its own 413.
 */
public class UnreadBodies {

  @ServerResponseFilter
  public void closeAfterRefusal(ContainerResponseContext response, RoutingContext routing) {
    HttpServerRequest request = routing.request();
    if (response.getStatus() < 400
        || request.isEnded()
        || !BodyLimits.isObjectPut(request.method(), routing.normalizedPath())) {
      return;
    }
    response.getHeaders().putSingle("Connection", "close");
    routing.addEndHandler(v -> request.connection().close());
  }
}
