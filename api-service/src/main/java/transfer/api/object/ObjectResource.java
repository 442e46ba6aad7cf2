package transfer.api.object;

import io.quarkus.logging.Log;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HEAD;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import transfer.api.ApiConfig;
import transfer.api.auth.Caller;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.quota.Quotas;
import transfer.api.request.RequestRules;
import transfer.api.session.SessionService;
import transfer.ledger.StagedObjects;
import transfer.ledger.StoredObject;

/**
 * Objects staged in a session as sources for upload tasks ({@code "source":{"object":name}}).
 *
 * <p>The PUT body is an {@link InputStream} on a blocking method: Quarkus REST then hands the
 * method a stream that reads the connection as the method reads it (fetching one chunk at a time,
 * so the client is held back by TCP while the disk catches up), instead of collecting the body
 * first. That keeps authentication, problem+json errors and routing the same as every other
 * resource; the price is one worker thread per upload in flight. Quarkus's own body-size limit
 * would refuse these bodies before any of this runs, so {@link BodyLimits} takes its place; and an
 * answer given before the body was read closes the connection ({@link UnreadBodies}).
 */
@Path("/v1/sessions/{sid}/objects/{name}")
@Produces(MediaType.APPLICATION_JSON)
public class ObjectResource {
  private final SessionService sessions;
  private final StagedObjects stagedObjects;
  private final Caller caller;
  private final ObjectStore store;
  private final Clock clock;
  private final long maxBytes;

  /** The tenant's bytes-stored quota, checked before and while the body is stored. */
  @Inject Quotas quotas;

  public ObjectResource(
      SessionService sessions,
      StagedObjects stagedObjects,
      Caller caller,
      ObjectStore store,
      Clock clock,
      ApiConfig config) {
    this.sessions = sessions;
    this.stagedObjects = stagedObjects;
    this.caller = caller;
    this.store = store;
    this.clock = clock;
    this.maxBytes = config.objects().maxBytes().asLongValue();
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
      UriInfo uri) {
    String tenant = caller.tenantId();
    ObjectStore.Staged staged;
    Optional<String> expected;
    long limit = maxBytes;
    try {
      RequestRules.requireSessionId(sid);
      ObjectRules.requireName(name);
      expected = ObjectRules.expectedSha256(reprDigest, checksum);
      sessions.requireActive(tenant, sid, "objects");
      long declared = contentLength == null ? -1 : Long.parseLong(contentLength.trim());
      if (declared > maxBytes) {
        throw tooLarge();
      }
      // The tenant's bytes-stored quota: a declared length past it is refused before the body is
      // read; a body that streams past it is cut there (the partial file is deleted).
      limit = Math.min(maxBytes, quotas.objectAllowance(tenant, sid, name, declared));
      staged = store.stage(body, declared, limit);
    } catch (ObjectStore.TooLarge e) {
      throw limit < maxBytes ? quotas.bytesStored(tenant) : tooLarge();
    } catch (ObjectStore.Incomplete e) {
      Log.infof(
          "object %s of session %s (tenant %s) not stored: %s", name, sid, tenant, e.getMessage());
      throw new ApiException(
          400, "body-incomplete", "Bad Request", e.getMessage() + "; nothing was stored");
    } catch (IOException e) {
      throw new IllegalStateException("cannot write object " + name + " to storage", e);
    }

    if (expected.isPresent() && !expected.get().equals(staged.sha256())) {
      store.discard(staged);
      String header = reprDigest != null ? ObjectRules.REPR_DIGEST : ObjectRules.X_CHECKSUM;
      throw new ApiException(
          400,
          "digest-mismatch",
          "Bad Request",
          "the body's SHA-256 is " + staged.sha256() + "; nothing was stored",
          List.of(new FieldError(header, "does not match the body (" + expected.get() + ")")));
    }

    java.nio.file.Path file;
    try {
      file = store.commit(staged, tenant, sid);
    } catch (IOException e) {
      store.discard(staged);
      throw new IllegalStateException("cannot move object " + name + " into storage", e);
    }
    StoredObject object =
        new StoredObject(
            tenant,
            sid,
            name,
            file.toUri().toString(),
            staged.size(),
            staged.sha256(),
            clock.instant());
    Optional<String> replaced;
    try {
      replaced = stagedObjects.putObject(object);
    } catch (RuntimeException e) {
      ObjectStore.deleteQuietly(file);
      throw e;
    }
    // Tasks that resolved the old object hold its location; they now find it gone rather than
    // sending other bytes than the ones they were submitted with.
    replaced.ifPresent(store::delete);
    return Response.status(replaced.isPresent() ? 200 : 201)
        .location(uri.getAbsolutePath())
        .header(HttpHeaders.ETAG, etag(object.sha256()))
        .entity(ObjectViews.of(object))
        .build();
  }

  /** Streams the object's bytes. */
  @GET
  @Produces({MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON})
  public Response get(@PathParam("sid") String sid, @PathParam("name") String name) {
    StoredObject object = find(sid, name);
    java.nio.file.Path file = store.existing(object.location()).orElseThrow(() -> gone(name));
    return described(Response.ok(file.toFile(), MediaType.APPLICATION_OCTET_STREAM), object)
        .build();
  }

  /** The headers of {@link #get} without the bytes. */
  @HEAD
  @Produces({MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON})
  public Response head(@PathParam("sid") String sid, @PathParam("name") String name) {
    StoredObject object = find(sid, name);
    if (store.existing(object.location()).isEmpty()) {
      throw gone(name);
    }
    return described(Response.ok(), object)
        .type(MediaType.APPLICATION_OCTET_STREAM)
        .header(HttpHeaders.CONTENT_LENGTH, object.size())
        .build();
  }

  /** Forgets the object, then deletes its bytes. */
  @DELETE
  public Response delete(@PathParam("sid") String sid, @PathParam("name") String name) {
    RequestRules.requireSessionId(sid);
    ObjectRules.requireName(name);
    StoredObject gone =
        stagedObjects
            .deleteObject(caller.tenantId(), sid, name)
            .orElseThrow(() -> ApiException.notFound("object " + name + " in session " + sid));
    store.delete(gone.location());
    return Response.noContent().build();
  }

  private StoredObject find(String sid, String name) {
    RequestRules.requireSessionId(sid);
    ObjectRules.requireName(name);
    return stagedObjects
        .object(caller.tenantId(), sid, name)
        .orElseThrow(() -> ApiException.notFound("object " + name + " in session " + sid));
  }

  private ApiException tooLarge() {
    return new ApiException(
        413,
        "object-too-large",
        "Content Too Large",
        "objects are limited to " + maxBytes + " bytes (transfer.objects.max-bytes)");
  }

  private static Response.ResponseBuilder described(
      Response.ResponseBuilder answer, StoredObject object) {
    byte[] digest = HexFormat.of().parseHex(object.sha256());
    return answer
        .header(HttpHeaders.ETAG, etag(object.sha256()))
        .header("Repr-Digest", "sha-256=:" + Base64.getEncoder().encodeToString(digest) + ":");
  }

  private static ApiException gone(String name) {
    return new ApiException(
        410, "content-gone", "Gone", "the bytes of object " + name + " are no longer in storage");
  }

  private static String etag(String sha256) {
    return "\"" + sha256 + "\"";
  }
}
