package transfer.api.object;

import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;
import transfer.api.ApiConfig;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.quota.ObjectRoom;
import transfer.api.quota.Quotas;
import transfer.api.quota.UploadSlots;
import transfer.api.session.SessionService;
import transfer.api.storage.StoredBody;
import transfer.api.storage.StoredBytes;
import transfer.ledger.StagedObjects;
import transfer.ledger.StoredObject;

/**
 * Staged objects: a body stored under a name in a session (all of it, verified, or nothing), read
 * back, deleted. The ledger records an object only once its bytes are durable in storage, and a
 * replaced object's bytes are deleted after the ledger names the new ones.
 */
@Singleton
public class ObjectService {
  // The lines keep the category they are filtered by: the resource's.
  private static final Logger LOG = Logger.getLogger(ObjectResource.class);

  private final SessionService sessions;
  private final StagedObjects stagedObjects;
  private final ObjectStore store;
  private final StoredBytes bytes;
  private final Quotas quotas;
  private final UploadSlots uploads;
  private final UploadPace pace;
  private final Clock clock;
  private final long maxBytes;

  public ObjectService(
      SessionService sessions,
      StagedObjects stagedObjects,
      ObjectStore store,
      StoredBytes bytes,
      Quotas quotas,
      UploadSlots uploads,
      UploadPace pace,
      Clock clock,
      ApiConfig config) {
    this.sessions = sessions;
    this.stagedObjects = stagedObjects;
    this.store = store;
    this.bytes = bytes;
    this.quotas = quotas;
    this.uploads = uploads;
    this.pace = pace;
    this.clock = clock;
    this.maxBytes = config.objects().maxBytes().asLongValue();
  }

  /** A stored object, and whether it replaced an object of the same name. */
  public record Stored(StoredObject object, boolean replaced) {}

  /**
   * Stores {@code body} as the object {@code name} of the session. The client's {@code
   * Content-Length} and digest headers are given as sent (null when absent): the length is checked
   * against the limits before the body is read, the digest against the body once it is stored. The
   * tenant's uploads in progress on this instance are capped (429), and a body slower than the
   * minimum pace is cut with {@code cutConnection} (408, nothing stored).
   */
  public Stored put(
      String tenant,
      String sid,
      String name,
      String contentLength,
      String reprDigest,
      String checksum,
      InputStream body,
      Runnable cutConnection) {
    Optional<String> expected = ObjectRules.expectedSha256(reprDigest, checksum);
    sessions.requireActive(tenant, sid, "objects");
    long declared = contentLength == null ? -1 : Long.parseLong(contentLength.trim());
    if (declared > maxBytes) {
      throw tooLarge();
    }
    uploads.take(tenant);
    // The tenant's bytes-stored quota: room is reserved as the body arrives (a declared length
    // whole, before the body is read), and given back once the object counts as itself.
    try (UploadPace.Metered metered = pace.watch(body, cutConnection);
        ObjectRoom room = quotas.objectRoom(tenant, sid, name, declared, maxBytes)) {
      String digestHeader = reprDigest != null ? ObjectRules.REPR_DIGEST : ObjectRules.X_CHECKSUM;
      return put(tenant, sid, name, declared, expected, digestHeader, metered, room);
    } finally {
      uploads.release(tenant);
    }
  }

  private Stored put(
      String tenant,
      String sid,
      String name,
      long declared,
      Optional<String> expected,
      String digestHeader,
      UploadPace.Metered body,
      ObjectRoom room) {
    ObjectStore.Staged staged;
    try {
      staged = store.stage(body, declared, room);
    } catch (ObjectStore.TooLarge e) {
      throw room.quotaBound(e.limit()) ? quotas.bytesStored(tenant) : tooLarge();
    } catch (ObjectStore.Incomplete e) {
      if (body.wasCut()) {
        LOG.infof(
            "object %s of session %s (tenant %s) not stored: its body brought less than %s; the"
                + " connection was closed after %d bytes",
            name, sid, tenant, pace.minimum(), body.bytes());
        throw new ApiException(
            408,
            "body-too-slow",
            "Request Timeout",
            "the body arrived slower than " + pace.minimum() + "; nothing was stored");
      }
      LOG.infof(
          "object %s of session %s (tenant %s) not stored: %s", name, sid, tenant, e.getMessage());
      throw new ApiException(
          400, "body-incomplete", "Bad Request", e.getMessage() + "; nothing was stored");
    } catch (IOException e) {
      throw new IllegalStateException("cannot write object " + name + " to storage", e);
    }

    if (expected.isPresent() && !expected.get().equals(staged.sha256())) {
      store.discard(staged);
      throw new ApiException(
          400,
          "digest-mismatch",
          "Bad Request",
          "the body's SHA-256 is " + staged.sha256() + "; nothing was stored",
          List.of(
              new FieldError(digestHeader, "does not match the body (" + expected.get() + ")")));
    }

    String location;
    try {
      location = bytes.store(staged.file(), tenant, sid);
    } catch (IOException e) {
      store.discard(staged);
      throw new IllegalStateException("cannot store object " + name + " in storage", e);
    }
    StoredObject object =
        new StoredObject(
            tenant, sid, name, location, staged.size(), staged.sha256(), clock.instant());
    Optional<String> replaced;
    try {
      replaced = stagedObjects.putObject(object);
    } catch (RuntimeException e) {
      bytes.delete(location);
      throw e;
    }
    // Tasks that resolved the old object hold its location; they now find it gone rather than
    // sending other bytes than the ones they were submitted with.
    replaced.ifPresent(bytes::delete);
    return new Stored(object, replaced.isPresent());
  }

  /** The object {@code name} of the session; 404 when there is none. */
  public StoredObject find(String tenant, String sid, String name) {
    return stagedObjects.object(tenant, sid, name).orElseThrow(() -> notFound(sid, name));
  }

  /** An object's stored bytes; 410 when they are gone from storage. */
  public StoredBody bytes(StoredObject object) {
    return bytes
        .existing(object.location())
        .orElseThrow(
            () ->
                StoredContent.gone(
                    "the bytes of object " + object.name() + " are no longer in storage"));
  }

  /** Forgets the object, then deletes its bytes; 404 when there is none. */
  public void delete(String tenant, String sid, String name) {
    StoredObject gone =
        stagedObjects.deleteObject(tenant, sid, name).orElseThrow(() -> notFound(sid, name));
    bytes.delete(gone.location());
  }

  private ApiException tooLarge() {
    return new ApiException(
        413,
        "object-too-large",
        "Content Too Large",
        "objects are limited to " + maxBytes + " bytes (transfer.objects.max-bytes)");
  }

  private static ApiException notFound(String sid, String name) {
    return ApiException.notFound("object " + name + " in session " + sid);
  }
}
