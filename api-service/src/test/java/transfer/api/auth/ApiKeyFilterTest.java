package transfer.api.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.lang.reflect.Proxy;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import transfer.api.problem.Problem;

/**
 * Which key opens which endpoints, without a server: the admin API's answers when it is disabled,
 * and that the admin key is refused on tenant endpoints before any key lookup (the tenant key store
 * is absent here, so a lookup would fail the test).
 */
class ApiKeyFilterTest {
  private static final String ADMIN = "an-admin-key-of-more-than-thirty-two-characters";

  private static ContainerRequestContext request(String path, String authorization) {
    UriInfo uri =
        (UriInfo)
            Proxy.newProxyInstance(
                ApiKeyFilterTest.class.getClassLoader(),
                new Class<?>[] {UriInfo.class},
                (p, m, a) -> {
                  if (m.getName().equals("getPath") && (a == null || a.length == 0)) {
                    return path;
                  }
                  throw new UnsupportedOperationException(m.getName());
                });
    return (ContainerRequestContext)
        Proxy.newProxyInstance(
            ApiKeyFilterTest.class.getClassLoader(),
            new Class<?>[] {ContainerRequestContext.class},
            (p, m, a) ->
                switch (m.getName()) {
                  case "getUriInfo" -> uri;
                  case "getHeaderString" ->
                      "Authorization".equalsIgnoreCase((String) a[0]) ? authorization : null;
                  default -> throw new UnsupportedOperationException(m.getName());
                });
  }

  private static ApiKeyFilter filter(AdminKey admin, Caller caller) {
    return new ApiKeyFilter(null, admin, null, caller);
  }

  @Test
  void withoutAnAdminKeyTheAdminApiIsNotFoundWhateverIsSent() {
    for (Optional<String> none : new Optional[] {Optional.empty(), Optional.of("  ")}) {
      AdminKey disabled = new AdminKey(none, Optional.of("tenant-key"));
      assertThat(disabled.enabled()).isFalse();
      assertThat(disabled.matches("  ")).isFalse();
      for (String auth : new String[] {null, "Bearer x", "Bearer " + ADMIN}) {
        Response r =
            filter(disabled, new Caller())
                .authenticate(request("/v1/admin/tenants", auth))
                .orElseThrow();
        assertThat(r.getStatus()).isEqualTo(404);
        assertThat(r.getMediaType().toString()).isEqualTo(Problem.MEDIA_TYPE);
        Problem p = (Problem) r.getEntity();
        assertThat(p.type()).isEqualTo(Problem.typeUri("admin-api-disabled"));
        assertThat(p.detail()).contains("transfer.admin-key");
      }
    }
  }

  @Test
  void theAdminKeyOpensTheAdminApiOnly() {
    AdminKey admin = new AdminKey(Optional.of(ADMIN), Optional.of("tenant-key"));
    Caller caller = new Caller();
    assertThat(filter(admin, caller).authenticate(request("/v1/admin/tenants", "Bearer " + ADMIN)))
        .isEmpty();
    caller.requireAdmin();
    assertThatThrownBy(caller::tenantId).isInstanceOf(IllegalStateException.class);

    Response wrong =
        filter(admin, new Caller())
            .authenticate(request("/v1/admin/tenants/x/keys", "Bearer tenant-key"))
            .orElseThrow();
    assertThat(wrong.getStatus()).isEqualTo(401);
    assertThat(wrong.getHeaderString("WWW-Authenticate")).isEqualTo("Bearer");

    // On a tenant endpoint the admin key is refused before any tenant key lookup.
    Caller tenantCaller = new Caller();
    Response onTenantPath =
        filter(admin, tenantCaller)
            .authenticate(request("/v1/sessions/s", "Bearer " + ADMIN))
            .orElseThrow();
    assertThat(onTenantPath.getStatus()).isEqualTo(401);
    assertThat(((Problem) onTenantPath.getEntity()).detail()).contains("admin key");
    assertThatThrownBy(tenantCaller::requireAdmin).hasMessageContaining("admin key");
  }

  @Test
  void healthAndMetricsNeedNoKey() {
    // Scrapers and probes carry no tenant key; nothing under /q is a tenant's.
    AdminKey admin = new AdminKey(Optional.of(ADMIN), Optional.of("tenant-key"));
    for (String path : new String[] {"/q/health/ready", "/q/metrics"}) {
      assertThat(filter(admin, new Caller()).authenticate(request(path, null))).as(path).isEmpty();
    }
  }

  @Test
  void adminPathsAreTheAdminTreeOnly() {
    assertThat(ApiKeyFilter.isAdminPath("/v1/admin")).isTrue();
    assertThat(ApiKeyFilter.isAdminPath("/v1/admin/tenants")).isTrue();
    assertThat(ApiKeyFilter.isAdminPath("/v1/administrators")).isFalse();
    assertThat(ApiKeyFilter.isAdminPath("/v1/sessions/admin")).isFalse();
  }

  @Test
  void anAdminKeyEqualToTheBootstrapTenantKeyStopsTheStart() {
    AdminKey same = new AdminKey(Optional.of("same-key"), Optional.of(" same-key "));
    assertThatThrownBy(() -> same.check(null))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("must differ");
    new AdminKey(Optional.of(ADMIN), Optional.empty()).check(null);
  }

  @Test
  void generatedKeysAre256RandomBitsWithAnIdAndTheirHash() {
    ApiKeys.NewKey a = ApiKeys.generate();
    ApiKeys.NewKey b = ApiKeys.generate();
    assertThat(a.secret()).matches("tk_[A-Za-z0-9_-]{43}").isNotEqualTo(b.secret());
    assertThat(a.id()).matches("key-[0-9a-f]{16}").isNotEqualTo(b.id());
    assertThat(a.hash()).isEqualTo(ApiKeys.hash(a.secret())).hasSize(32);
  }
}
