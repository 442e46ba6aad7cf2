package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import transfer.contracts.SessionConfig;

/**
 * Fair shares among tenants: the claim's fair order across tenants (priority orders work within a
 * tenant only), a tenant's cap on running transfers, and the hand-backs that give a waiting tenant
 * its share while another's long transfers hold every slot.
 */
class FairSharesIT extends LedgerFixture {
  private static final Duration GRACE = Duration.ofSeconds(1);

  FairSharesIT() {
    super("2026-03-02T00:00:00Z");
  }

  @BeforeEach
  void parkOpenTasks() throws Exception {
    // Claims and fair shares count every tenant's tasks in the schema: park other tests'.
    db.parkOpenTasks();
  }

  @Test
  void aTenantsHighPrioritiesDoNotPutItAheadOfAnotherTenantThatRunsLess() {
    List<TaskRow> greedy = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      greedy.add(submit(withPriority("http://a.test/" + i, 1.0)));
    }
    String other = newTenant();
    TaskRow modest = submitAs(other, withPriority("http://b.test/x", 0.0));

    // The first of each tenant ranks first (priority breaks the tie), then the second of the
    // greedy tenant competes with nothing of the other's.
    assertThat(claimedIds(3)).containsExactly(greedy.get(0).id(), modest.id(), greedy.get(1).id());
  }

  @Test
  void aTenantRunningMoreWaitsBehindOneRunningLessWhateverItsPriorities() {
    for (int i = 0; i < 3; i++) {
      submit(withPriority("http://a.test/" + i, 1.0));
    }
    assertThat(claimedIds(3)).hasSize(3);
    TaskRow next = submit(withPriority("http://a.test/next", 1.0));
    String other = newTenant();
    TaskRow modest = submitAs(other, withPriority("http://b.test/x", 0.0));

    assertThat(claimedIds(1)).containsExactly(modest.id());
    assertThat(claimedIds(1)).containsExactly(next.id());
  }

  @Test
  void aTenantsCapOnRunningTransfersHoldsAndItsDoorbellsAreParked() {
    ledger.tenants().setQuotas(tenant, new QuotaOverrides(null, null, null, null, 2)).orElseThrow();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      ids.add(submit(withPriority("http://h" + i + ".test/x", 0.5)).id());
    }

    Claims.Claimed first = ledger.claims().claimFor("w1", TTL, 4, ids);
    assertThat(first.claims()).hasSize(2);
    assertThat(first.passedOver()).hasSize(2);
    assertThat(ledger.claims().claimNext("w2", TTL, 4)).isEmpty();

    ledger.leases().release(first.claims().get(0).lease(), null);
    assertThat(ledger.claims().claimNext("w2", TTL, 4)).as("one slot of the cap freed").hasSize(1);
  }

  @Test
  void aWaitingTenantGetsOneTransferHandedBackByTheTenantAboveItsShare() {
    List<String> byW1 = new ArrayList<>();
    List<String> byW2 = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      submit(withPriority("http://a.test/" + i, 0.1 * (i + 1)));
    }
    for (Claim c : ledger.claims().claimNext("w1", TTL, 2)) {
      byW1.add(c.task().id());
    }
    for (Claim c : ledger.claims().claimNext("w2", TTL, 2)) {
      byW2.add(c.task().id());
    }
    String other = newTenant();
    submitAs(other, withPriority("http://b.test/x", 0.0));

    assertThat(handBacks()).as("the waiting task is within its grace").isEmpty();

    clock.advance(GRACE.plusMillis(1));
    List<String> handBacks = handBacks();
    // 4 running, 2 tenants: a share of 2; the waiting tenant needs 1, the other runs 2 above it.
    // Its least important transfer goes: the lowest priority, claimed by w2 (the best went first).
    assertThat(handBacks).hasSize(1);
    assertThat(byW2).contains(handBacks.get(0));
    assertThat(task(handBacks.get(0)).priority()).isCloseTo(0.1, within(1e-9));
  }

  @Test
  void noHandBackWhenTheWaitingTenantHasItsShareOrIsAtItsOwnLimit() {
    for (int i = 0; i < 4; i++) {
      submit(withPriority("http://a.test/" + i, 0.5));
    }
    assertThat(ledger.claims().claimNext("w1", TTL, 4)).hasSize(4);
    String other = newTenant();
    String capped = "capped-" + UUID.randomUUID();
    ledger.sessions().upsertSession(other, capped, config(1, null, false));
    submitAs(other, capped, withPriority("http://b.test/1", 0.5));
    assertThat(ledger.claims().claimNext("w2", TTL, 1)).hasSize(1);
    submitAs(other, capped, withPriority("http://b.test/2", 0.5));
    clock.advance(GRACE.plusSeconds(1));

    // 5 running, 2 tenants: a share of 2. The other tenant runs 1 and waits, but its only
    // session is at maxConcurrentTransfers 1: a hand-back would not give it a slot.
    assertThat(handBacks()).isEmpty();
  }

  @Test
  void anOriginAtTheClustersCapStartsNoMoreTransfersWhateverTheirTenants() {
    Ledger polite = new Ledger(db.dataSource(), clock, 2);
    submit(withPriority("http://busy.test/1", 0.5));
    submit(withPriority("http://busy.test/2", 0.5));
    String other = newTenant();
    String same = "same-" + UUID.randomUUID();
    ledger.sessions().upsertSession(other, same, SessionConfig.DEFAULT);
    TaskRow third = submitAs(other, same, withPriority("http://busy.test/3", 1.0));
    TaskRow elsewhere = submitAs(other, same, withPriority("http://quiet.test/1", 0.1));

    List<Claim> claimed = polite.claims().claimNext("w1", TTL, 4);
    // Two on busy.test (the fair order picks one of each tenant first), one on quiet.test.
    assertThat(claimed).hasSize(3);
    assertThat(claimed).extracting(c -> c.task().id()).contains(third.id(), elsewhere.id());
    assertThat(polite.claims().claimNext("w2", TTL, 4)).as("busy.test is at the cap").isEmpty();
  }

  private List<String> handBacks() {
    List<String> all = new ArrayList<>();
    all.addAll(ledger.fairShares().handBacks("w1", GRACE));
    all.addAll(ledger.fairShares().handBacks("w2", GRACE));
    return all;
  }

  private String newTenant() {
    String other = "t-" + UUID.randomUUID();
    ledger.tenants().ensureTenantKey(other, "k-" + other, UUID.randomUUID().toString().getBytes());
    ledger.sessions().upsertSession(other, session, SessionConfig.DEFAULT);
    return other;
  }

  private TaskRow submitAs(String tenantId, transfer.contracts.TaskRequest r) {
    return submitAs(tenantId, session, r);
  }

  private TaskRow submitAs(String tenantId, String sid, transfer.contracts.TaskRequest r) {
    SessionConfig cfg =
        ledger.sessions().session(tenantId, sid).orElseThrow().config().withDefaults();
    return ledger.submissions().submit(tenantId, sid, r, cfg, null, null).task();
  }

  private List<String> claimedIds(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ledger.claims().claimNext("w", TTL).ifPresent(c -> out.add(c.task().id()));
    }
    return out;
  }
}
