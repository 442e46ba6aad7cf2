package transfer.api.auth;

import jakarta.enterprise.context.RequestScoped;

/** The tenant whose key authenticated the current request. */
@RequestScoped
public class Caller {
  private String tenantId;

  public String tenantId() {
    if (tenantId == null) {
      throw new IllegalStateException("no authenticated tenant on this request");
    }
    return tenantId;
  }

  void authenticate(String tenantId) {
    this.tenantId = tenantId;
  }
}
