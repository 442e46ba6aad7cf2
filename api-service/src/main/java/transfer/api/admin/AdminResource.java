package transfer.api.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import transfer.api.auth.ApiKeys;
import transfer.api.auth.Caller;
import transfer.api.problem.ApiException;
import transfer.api.problem.Problem.FieldError;
import transfer.api.quota.Limits;
import transfer.api.quota.TenantLimits;
import transfer.api.request.Paging;
import transfer.api.request.RequestRules;
import transfer.ledger.ApiKeyRow;
import transfer.ledger.QuotaOverrides;
import transfer.ledger.TenantRow;
import transfer.ledger.Tenants;

/**
 * The admin API: tenants, their API keys and their quotas. Authenticated with the admin key alone
 * ({@link transfer.api.auth.ApiKeyFilter}). A key's secret is answered once, by the call that made
 * it; afterwards only its id is shown.
 */
@Path("/v1/admin/tenants")
@Produces(MediaType.APPLICATION_JSON)
public class AdminResource {
  static final int MAX_NAME_LENGTH = 200;

  private final Tenants tenants;
  private final ApiKeys keys;
  private final TenantLimits limits;
  private final Caller caller;

  public AdminResource(Tenants tenants, ApiKeys keys, TenantLimits limits, Caller caller) {
    this.tenants = tenants;
    this.keys = keys;
    this.limits = limits;
    this.caller = caller;
  }

  /** The body of a tenant's creation; {@code name} defaults to the id, {@code quotas} to none. */
  public record NewTenant(String id, String name, QuotaOverrides quotas) {}

  /** A key as listed: never its secret. */
  public record KeyView(String id, Instant createdAt, Instant revokedAt) {}

  /** A key just made: the only answer that ever shows its secret. */
  public record NewKeyView(String id, String secret, Instant createdAt) {}

  /** What a tenant holds now, as its quotas count it. */
  public record Usage(long tasksInFlight, long bytesStored) {}

  /**
   * A tenant: {@code quotas} are its own values (null: the default applies), {@code
   * effectiveQuotas} what applies. {@code usage} and {@code keys} are in the single tenant's view.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record TenantView(
      String id,
      String name,
      Instant createdAt,
      QuotaOverrides quotas,
      Limits effectiveQuotas,
      Usage usage,
      List<KeyView> keys) {}

  /** A created tenant and its first key. */
  public record Created(TenantView tenant, NewKeyView key) {}

  /** A page of tenants by id; {@code next} is the {@code after} of the following page, or null. */
  public record TenantPage(List<TenantView> tenants, String next) {}

  /** Creates a tenant with its first key (201); 409 when the id is taken. */
  @POST
  @Consumes(MediaType.APPLICATION_JSON)
  public Response create(NewTenant body, UriInfo uri) {
    caller.requireAdmin();
    if (body == null) {
      throw ApiException.invalid(List.of(new FieldError("$", "a JSON object is required")));
    }
    List<FieldError> errors = new ArrayList<>();
    if (body.id() == null) {
      errors.add(new FieldError("id", "is required"));
    } else if (!RequestRules.isSessionId(body.id())) {
      errors.add(
          new FieldError(
              "id",
              "must be 1 to 128 characters of letters, digits, '.', '_' or '-', starting with a"
                  + " letter or digit"));
    }
    String name = body.name() == null ? body.id() : body.name();
    if (body.name() != null
        && (body.name().isBlank()
            || body.name().length() > MAX_NAME_LENGTH
            || !RequestRules.isStorableText(body.name())
            || body.name()
                .chars()
                .anyMatch(
                    ch ->
                        Character.isISOControl(ch) || Character.getType(ch) == Character.FORMAT))) {
      errors.add(
          new FieldError(
              "name", "must be 1 to " + MAX_NAME_LENGTH + " characters, no control characters"));
    }
    checkQuotas("quotas.", body.quotas(), errors);
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    ApiKeys.NewKey key = ApiKeys.generate();
    TenantRow row;
    try {
      row = tenants.createTenant(body.id(), name, body.quotas(), key.id(), key.hash());
    } catch (Tenants.TenantExists e) {
      throw ApiException.conflict("tenant " + body.id() + " exists already");
    }
    return Response.created(uri.getAbsolutePathBuilder().path(row.id()).build())
        .entity(
            new Created(view(row, false), new NewKeyView(key.id(), key.secret(), row.createdAt())))
        .build();
  }

  /** The tenants in id order, {@code limit} at a time after the tenant {@code after}. */
  @GET
  public TenantPage list(
      @QueryParam("limit") String limitParam, @QueryParam("after") String after) {
    caller.requireAdmin();
    List<FieldError> errors = new ArrayList<>();
    int limit = Paging.limit(limitParam, errors);
    if (after != null && !RequestRules.isSessionId(after)) {
      errors.add(new FieldError("after", "must be a tenant id (the 'next' of an earlier page)"));
    }
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    List<TenantRow> rows = tenants.tenants(after, limit + 1);
    boolean more = rows.size() > limit;
    List<TenantView> page = rows.stream().limit(limit).map(r -> view(r, false)).toList();
    return new TenantPage(page, more ? page.get(page.size() - 1).id() : null);
  }

  /** A tenant with its key ids (never secrets), quotas and usage. */
  @GET
  @Path("{tenant}")
  public TenantView get(@PathParam("tenant") String tenant) {
    caller.requireAdmin();
    return view(find(tenant), true);
  }

  /**
   * Replaces the tenant's own quotas: a field left out or null falls back to the default. Applies
   * at once on this instance, within 10 s on the others.
   */
  @PUT
  @Path("{tenant}/quotas")
  @Consumes(MediaType.APPLICATION_JSON)
  public TenantView putQuotas(@PathParam("tenant") String tenant, QuotaOverrides quotas) {
    caller.requireAdmin();
    if (quotas == null) {
      throw ApiException.invalid(
          List.of(new FieldError("$", "a JSON object is required ({} for the defaults)")));
    }
    List<FieldError> errors = new ArrayList<>();
    checkQuotas("", quotas, errors);
    if (!errors.isEmpty()) {
      throw ApiException.invalid(errors);
    }
    requireTenantId(tenant);
    TenantRow row = tenants.setQuotas(tenant, quotas).orElseThrow(() -> tenantNotFound(tenant));
    limits.forget(tenant);
    return view(row, true);
  }

  /** Makes another key for the tenant (201); its secret is in this answer only. */
  @POST
  @Path("{tenant}/keys")
  public Response addKey(@PathParam("tenant") String tenant) {
    caller.requireAdmin();
    requireTenantId(tenant);
    ApiKeys.NewKey key = ApiKeys.generate();
    ApiKeyRow row =
        tenants.addKey(tenant, key.id(), key.hash()).orElseThrow(() -> tenantNotFound(tenant));
    return Response.status(201)
        .entity(new NewKeyView(row.id(), key.secret(), row.createdAt()))
        .build();
  }

  /**
   * Revokes a key (204; again: 204). It stops working at once on this instance and within 10 s (the
   * key cache) on the others.
   */
  @DELETE
  @Path("{tenant}/keys/{keyId}")
  public Response revokeKey(@PathParam("tenant") String tenant, @PathParam("keyId") String keyId) {
    caller.requireAdmin();
    requireTenantId(tenant);
    if (keyId == null || !KEY_ID.matcher(keyId).matches()) {
      throw keyNotFound(tenant, keyId);
    }
    byte[] hash = tenants.revokeKey(tenant, keyId).orElseThrow(() -> keyNotFound(tenant, keyId));
    keys.forget(hash);
    return Response.noContent().build();
  }

  private TenantRow find(String tenant) {
    requireTenantId(tenant);
    return tenants.tenant(tenant).orElseThrow(() -> tenantNotFound(tenant));
  }

  private TenantView view(TenantRow row, boolean full) {
    Limits effective = limits.defaults().with(row.quotas());
    if (!full) {
      return new TenantView(
          row.id(), row.name(), row.createdAt(), row.quotas(), effective, null, null);
    }
    Usage usage =
        new Usage(tenants.tasksInFlight(row.id(), Long.MAX_VALUE), tenants.bytesStored(row.id()));
    List<KeyView> keyViews =
        tenants.keys(row.id()).stream()
            .map(k -> new KeyView(k.id(), k.createdAt(), k.revokedAt()))
            .toList();
    return new TenantView(
        row.id(), row.name(), row.createdAt(), row.quotas(), effective, usage, keyViews);
  }

  /** Key ids as {@link ApiKeys} makes them; any other cannot name a key. */
  private static final java.util.regex.Pattern KEY_ID =
      java.util.regex.Pattern.compile("key-[0-9a-f]{1,64}");

  /** A tenant id that cannot name a tenant is simply not found. */
  private static void requireTenantId(String tenant) {
    if (!RequestRules.isSessionId(tenant)) {
      throw tenantNotFound(tenant);
    }
  }

  private static ApiException tenantNotFound(String tenant) {
    return ApiException.notFound("tenant " + RequestRules.sanitize(tenant));
  }

  private static ApiException keyNotFound(String tenant, String keyId) {
    return ApiException.notFound(
        "key " + RequestRules.sanitize(keyId) + " of tenant " + RequestRules.sanitize(tenant));
  }

  /**
   * Quotas from 0 (nothing allowed) up; the rate above 0, the burst and the running transfers at
   * least 1.
   */
  static void checkQuotas(String prefix, QuotaOverrides q, List<FieldError> errors) {
    if (q == null) {
      return;
    }
    if (q.tasksInFlight() != null && q.tasksInFlight() < 0) {
      errors.add(new FieldError(prefix + "tasksInFlight", "must be 0 or more"));
    }
    if (q.bytesStored() != null && q.bytesStored() < 0) {
      errors.add(new FieldError(prefix + "bytesStored", "must be 0 or more"));
    }
    if (q.requestsPerSecond() != null
        && !(q.requestsPerSecond() > 0 && q.requestsPerSecond() <= 1_000_000)) {
      errors.add(
          new FieldError(prefix + "requestsPerSecond", "must be above 0 and at most 1000000"));
    }
    if (q.burst() != null && (q.burst() < 1 || q.burst() > 1_000_000)) {
      errors.add(new FieldError(prefix + "burst", "must be between 1 and 1000000"));
    }
    if (q.runningTransfers() != null
        && (q.runningTransfers() < 1 || q.runningTransfers() > 1_000_000)) {
      errors.add(new FieldError(prefix + "runningTransfers", "must be between 1 and 1000000"));
    }
  }
}
