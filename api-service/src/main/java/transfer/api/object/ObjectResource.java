package transfer.api.object;

import io.smallrye.common.annotation.Blocking;
import io.vertx.core.http.HttpServerRequest;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HEAD;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.io.InputStream;
import transfer.api.auth.Caller;
import transfer.api.request.RequestRules;
import transfer.api.storage.StoredBody;
import transfer.ledger.StoredObject;

/**
 * Objects staged in a session as sources for upload tasks ({@code "source":{"object":name}}).
 *
 * <p>The PUT body is an {@link InputStream} on a blocking method: Quarkus REST then hands the
 * method a stream that reads the connection as the method reads it (fetching one chunk at a time,
 * so the client is held back by TCP while the disk catches up), instead of collecting the body
 * first. That keeps authentication, problem+json errors and routing the same as every other
 * resource; the price is one worker thread per upload in flight, which is why a tenant has few
 * uploads in progress at once ({@code UploadSlots}) and a body must keep a pace ({@link
 * UploadPace}). Quarkus's own body-size limit would refuse these bodies before any of this runs, so
 * {@link BodyLimits} takes its place; and an answer given before the body was read closes the
 * connection ({@link UnreadBodies}).
 */
@Path("/v1/sessions/{sid}/objects/{name}")
@Produces(MediaType.APPLICATION_JSON)
public class ObjectResource {
  private final ObjectService objects;
  private final Caller caller;

  public ObjectResource(ObjectService objects, Caller caller) {
    this.objects = objects;
    this.caller = caller;
  }

  /** Stores the body as the object (201 new, 200 replaced); nothing is stored unless all of it. */
  @PUT
  @Blocking
  @Consumes(MediaType.WILDCARD)
  public Response put(
      @PathParam("sid") String sid,
      @PathParam("name") String name,
      @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength,
      @HeaderParam(ObjectRules.REPR_DIGEST) String reprDigest,
      @HeaderParam(ObjectRules.X_CHECKSUM) String checksum,
      InputStream body,
      UriInfo uri,
      @Context HttpServerRequest request) {
    String tenant = caller.tenantId();
    RequestRules.requireSessionId(sid);
    ObjectRules.requireName(name);
    ObjectService.Stored stored =
        objects.put(
            tenant,
            sid,
            name,
            contentLength,
            reprDigest,
            checksum,
            body,
            () -> request.connection().close());
    return Response.status(stored.replaced() ? 200 : 201)
        .location(uri.getAbsolutePath())
        .header(HttpHeaders.ETAG, StoredContent.etag(stored.object().sha256()))
        .entity(ObjectViews.of(stored.object()))
        .build();
  }

  /** Streams the object's bytes. */
  @GET
  @Produces({MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON})
  public Response get(@PathParam("sid") String sid, @PathParam("name") String name) {
    StoredObject object = find(sid, name);
    StoredBody body = objects.bytes(object);
    return StoredContent.described(
            StoredContent.length(
                Response.ok(
                    StoredContent.entity(body, 0, body.size()), MediaType.APPLICATION_OCTET_STREAM),
                body,
                body.size()),
            object.sha256())
        .build();
  }

  /** The headers of {@link #get} without the bytes. */
  @HEAD
  @Produces({MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON})
  public Response head(@PathParam("sid") String sid, @PathParam("name") String name) {
    StoredObject object = find(sid, name);
    objects.bytes(object);
    return StoredContent.described(Response.ok(), object.sha256())
        .type(MediaType.APPLICATION_OCTET_STREAM)
        .header(HttpHeaders.CONTENT_LENGTH, object.size())
        .build();
  }

  /** Forgets the object, then deletes its bytes. */
  @DELETE
  public Response delete(@PathParam("sid") String sid, @PathParam("name") String name) {
    RequestRules.requireSessionId(sid);
    ObjectRules.requireName(name);
    objects.delete(caller.tenantId(), sid, name);
    return Response.noContent().build();
  }

  private StoredObject find(String sid, String name) {
    RequestRules.requireSessionId(sid);
    ObjectRules.requireName(name);
    return objects.find(caller.tenantId(), sid, name);
  }
}
