package transfer.api.auth;

import jakarta.enterprise.context.RequestScoped;
import transfer.api.problem.ApiException;

/** Who authenticated the current request: a tenant (by one of its keys), or the admin. */
@RequestScoped
public class Caller {
  private String tenantId;
  private boolean admin;

  public String tenantId() {
    if (tenantId == null) {
      throw new IllegalStateException("no authenticated tenant on this request");
    }
    return tenantId;
  }

  /** The authenticated tenant, or null (not authenticated, or the admin). */
  public String tenantIdOrNull() {
    return tenantId;
  }

  /**
   * For the admin resources: refuses a request that was not authenticated with the admin key (the
   * filter already does; this guards against a path it did not recognize as an admin path).
   */
  public void requireAdmin() {
    if (!admin) {
      throw new ApiException(
          401, "unauthorized", "Unauthorized", "the admin API takes the admin key");
    }
  }

  void authenticate(String tenantId) {
    this.tenantId = tenantId;
  }

  void authenticateAdmin() {
    this.admin = true;
  }
}
