package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Reservations (V18): open downloads count against the bytes-stored quota as what they reserved;
 * writers at once share the room left, and a completion or a cancel replaces or drops the
 * reservation in the usage counters.
 */
class ReservationsIT extends LedgerFixture {
  private static final long NO_DEFAULT = Long.MAX_VALUE;

  ReservationsIT() {
    super("2026-06-01T00:00:00Z");
  }

  @BeforeEach
  void parkQueuedTasks() throws Exception {
    db.parkQueuedTasks();
  }

  private Lease running() {
    TaskRow t = submit();
    Claim c = ledger.claims().claimNext("w1", TTL).orElseThrow();
    assertThat(c.task().id()).isEqualTo(t.id());
    return Lease.of(t.id(), c.epoch());
  }

  private Reservations.Grant reserve(Lease lease, long wanted) {
    return ledger.reservations().reserve(lease, tenant, wanted, NO_DEFAULT);
  }

  @Test
  void writersShareTheRoomLeftAndACompletionCountsItsSizeInsteadOfItsReservation() {
    ledger.tenants().setQuotas(tenant, new QuotaOverrides(null, 100L, null, null, null));
    Lease a = running();
    Lease b = running();

    assertThat(reserve(a, 70).reserved()).isEqualTo(70);
    Reservations.Grant toB = reserve(b, 70);
    assertThat(toB.reserved()).as("only the room left").isEqualTo(30);
    assertThat(toB.used()).isEqualTo(70);
    assertThat(toB.quota()).isEqualTo(100);
    assertThat(reserve(a, 100).reserved()).as("none left: no more").isEqualTo(70);
    assertThat(reserve(a, 40).reserved()).as("a reservation never shrinks").isEqualTo(70);
    assertThat(ledger.tenants().usage(tenant).bytesStored()).isEqualTo(100);

    assertThat(ledger.leases().completeDownload(a, "file:///x/a", 50, "00", 50)).isTrue();
    assertThat(ledger.tenants().usage(tenant).bytesStored())
        .as("50 stored + 30 reserved")
        .isEqualTo(80);
    assertThat(reserve(b, 60).reserved()).as("the room the completion gave back").isEqualTo(50);

    TaskRow bRow = ledger.taskControl().task(tenant, session, b.taskId()).orElseThrow();
    ledger.taskControl().cancel(tenant, session, bRow.id(), false);
    assertThat(ledger.tenants().usage(tenant).bytesStored()).isEqualTo(50);
    assertThat(drifts()).as("the counters match the rows").isEmpty();
  }

  private List<TenantUsage.Drift> drifts() {
    return ledger.tenants().recountUsage().stream()
        .filter(d -> d.tenantId().equals(tenant))
        .toList();
  }

  @Test
  void aLeaseNoLongerHeldGetsNothing() {
    Lease a = running();
    Lease stale = Lease.of(a.taskId(), a.epoch() + 1);
    Reservations.Grant g = reserve(stale, 10);
    assertThat(g.held()).isFalse();
    assertThat(ledger.tenants().usage(tenant).bytesStored()).isZero();
    assertThat(reserve(a, 10).held()).isTrue();
  }

  @Test
  void theDefaultQuotaAppliesToATenantWithoutItsOwn() {
    Lease a = running();
    assertThat(ledger.reservations().reserve(a, tenant, 500, 200).reserved()).isEqualTo(200);
  }

  @Test
  void manyWritersAtOnceNeverReserveMoreThanTheQuota() throws Exception {
    long quota = 10_000;
    ledger.tenants().setQuotas(tenant, new QuotaOverrides(null, quota, null, null, null));
    List<Lease> leases = new ArrayList<>();
    for (int i = 0; i < 6; i++) { // the session's six per host
      leases.add(running());
    }
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<Long>> got = new ArrayList<>();
      for (Lease l : leases) {
        Callable<Long> writer =
            () -> {
              long reserved = 0;
              while (true) {
                Reservations.Grant g = reserve(l, reserved + 97);
                if (g.reserved() == reserved) {
                  return reserved;
                }
                reserved = g.reserved();
              }
            };
        got.add(pool.submit(writer));
      }
      long total = 0;
      for (Future<Long> f : got) {
        total += f.get();
      }
      assertThat(total).isEqualTo(quota);
      assertThat(ledger.tenants().usage(tenant).bytesStored()).isEqualTo(quota);
      assertThat(drifts()).isEmpty();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void objectPutsShareTheRoomWithDownloadsAndGiveItBackOrExpire() {
    Lease a = running();
    assertThat(ledger.reservations().reserve(a, tenant, 60, 100).reserved()).isEqualTo(60);
    Duration ttl = Duration.ofMinutes(15);

    Reservations.Grant put = ledger.reservations().reserveObject("put-1", tenant, 70, 100, 0, ttl);
    assertThat(put.reserved()).as("the room the download left").isEqualTo(40);
    assertThat(ledger.reservations().reserveObject("put-1", tenant, 70, 100, 25, ttl).reserved())
        .as("an object it replaces counts free")
        .isEqualTo(65);
    assertThat(ledger.tenants().usage(tenant).bytesStored()).isEqualTo(125);
    ledger.reservations().releaseObject("put-1");
    assertThat(ledger.tenants().usage(tenant).bytesStored()).isEqualTo(60);

    ledger.reservations().reserveObject("put-2", tenant, 30, 100, 0, ttl);
    assertThat(ledger.tenants().usage(tenant).bytesStored()).isEqualTo(90);
    assertThat(ledger.reservations().dropExpiredObjectReservations(100)).isZero();
    clock.advance(ttl.plusSeconds(1));
    assertThat(ledger.reservations().dropExpiredObjectReservations(100)).isEqualTo(1);
    assertThat(ledger.tenants().usage(tenant).bytesStored()).isEqualTo(60);
    assertThat(drifts()).isEmpty();
  }
}
