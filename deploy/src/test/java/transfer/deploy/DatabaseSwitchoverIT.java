package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import transfer.testkit.Origin;
import transfer.testkit.ReplicatedPostgres;
import transfer.testkit.TestInfra;

/**
 * Second catalogue, fault 11: a PostgreSQL switchover to a promoted replica, on real servers. The
 * services reach the database through one address (a TCP proxy, as a Kubernetes Service in front of
 * the primary); the primary stops, the standby is promoted and the address moves to it, while
 * transfers run and a client submits. The same api-service and worker processes (no restart) serve
 * again, every task the API acknowledged completes, and each session's events keep their order on
 * the topic.
 *
 * <p>This cluster has its own database pair, broker, origin and storage, so that the switchover
 * touches no other test's cluster.
 */
class DatabaseSwitchoverIT {
  private static final Logger LOG = LoggerFactory.getLogger(DatabaseSwitchoverIT.class);
  private static final long SIZE = 1L << 20;
  private static final long RATE = 256L << 10; // 4 s a transfer: running through the switchover
  private static final Duration FINISH = Duration.ofSeconds(120);

  private static Path dir;
  private static ReplicatedPostgres postgres;
  private static CuttingProxy databaseAddress;
  private static OwnCluster cluster;
  private static ServiceProcess api;
  private static ServiceProcess worker;
  private static ApiClient client;
  private static Origin origin;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("transfer-switchover-it");
    postgres = ReplicatedPostgres.start(dir.resolve("postgres"), List.of(TestInfra.DATABASE));
    databaseAddress = new CuttingProxy(postgres.primaryPort());
    cluster =
        new OwnCluster(
            dir,
            postgres.jdbcUrl(databaseAddress.port(), TestInfra.DATABASE),
            postgres.user(),
            postgres.password());
    client = cluster.client;
    origin = cluster.origin;
    api = cluster.startApi();
    worker = cluster.startWorker("switchover-worker", OwnCluster.WORKER_JAR);
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {cluster, databaseAddress, postgres}) {
      if (c != null) {
        c.close();
      }
    }
    if (!Boolean.getBoolean("switchover.keep")) {
      OwnCluster.deleteTree(dir);
    }
  }

  @Test
  void theServicesFollowThePromotedReplicaWithoutARestartAndEventsKeepTheirOrder()
      throws Exception {
    String sid = cluster.newSession("switchover", "{}");

    // Transfers that run through the switchover: 4 s each, 12 of them on 8 slots.
    Map<String, OwnCluster.Body> bodies =
        new ConcurrentHashMap<>(cluster.downloads(sid, 12, 9100, SIZE, RATE));
    List<String> acknowledged = new CopyOnWriteArrayList<>(bodies.keySet());

    // A client that goes on submitting through the switchover, as services do.
    Map<Integer, Integer> answers = new ConcurrentHashMap<>();
    AtomicLong firstAcceptedAfterPromotion = new AtomicLong();
    AtomicLong promotedAt = new AtomicLong(Long.MAX_VALUE);
    AtomicBoolean submitting = new AtomicBoolean(true);
    Thread submitter =
        new Thread(
            () -> {
              long seed = 9200;
              while (submitting.get()) {
                long s = seed++;
                try {
                  ApiClient.Answer a =
                      client.call(
                          "POST",
                          "/v1/sessions/" + sid + "/tasks",
                          "{\"type\":\"download\",\"url\":\""
                              + origin.url("/bytes/65536?seed=" + s)
                              + "\"}");
                  answers.merge(a.status(), 1, Integer::sum);
                  if (a.status() == 201) {
                    String tid = a.body().get("id").asText();
                    bodies.put(tid, new OwnCluster.Body(65536, s));
                    acknowledged.add(tid);
                    long now = System.nanoTime();
                    if (now > promotedAt.get()) {
                      firstAcceptedAfterPromotion.compareAndSet(0, now);
                    }
                  } else if (a.status() >= 500) {
                    LOG.info("submit during the switchover: {} {}", a.status(), a.body());
                  }
                  Thread.sleep(100);
                } catch (InterruptedException e) {
                  return;
                } catch (Exception e) {
                  answers.merge(-1, 1, Integer::sum);
                  LOG.info("submit during the switchover failed: {}", e.toString());
                }
              }
            },
            "switchover-submitter");
    submitter.setDaemon(true);
    submitter.start();

    try {
      // Bytes are moving, then the switchover: the primary stops, the address refuses for a
      // second (a Service's endpoint moves after the promotion), the standby is promoted and the
      // address moves to it.
      Thread.sleep(2000);
      long stoppedAt = System.nanoTime();
      postgres.stopPrimary();
      Thread.sleep(1000);
      postgres.promoteStandby();
      databaseAddress.retarget(postgres.standbyPort());
      promotedAt.set(System.nanoTime());
      assertThat(postgres.inRecovery(postgres.standbyPort()))
          .as("the standby was promoted")
          .isFalse();
      LOG.info(
          "switchover: primary stopped, standby promoted and the address moved in {} ms",
          (promotedAt.get() - stoppedAt) / 1_000_000);

      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (firstAcceptedAfterPromotion.get() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      Thread.sleep(2000);
    } finally {
      submitting.set(false);
      submitter.join(10_000);
    }

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(firstAcceptedAfterPromotion.get())
        .as("a submit accepted after the promotion")
        .isPositive();
    LOG.info(
        "first submit accepted {} ms after the promotion; answers during the run: {}",
        (firstAcceptedAfterPromotion.get() - promotedAt.get()) / 1_000_000,
        answers);
    soft.assertThat(answers.keySet())
        .as("every answer a 201 or a 503 (never a 500), by status: %s", answers)
        .isSubsetOf(201, 503);

    // Every acknowledged task completes with the origin's bytes.
    cluster.assertCompleted(sid, bodies, FINISH, soft);

    // The same processes serve (nothing restarts them here: they kept running), and are ready.
    soft.assertThat(api.isAlive()).as("the api-service process").isTrue();
    soft.assertThat(worker.isAlive()).as("the worker process").isTrue();
    api.awaitReady(cluster.apiPort(), Duration.ofSeconds(30));
    worker.awaitReady(cluster.portOf(worker), Duration.ofSeconds(30));

    // The session's events, in the ledger and on the topic: in order, one completion per task. A
    // submit answered 503 whose commit went through just as the primary stopped may complete
    // too: every acknowledged task is among the completed, not necessarily all of them.
    soft.assertThat(cluster.assertEventsInOrder(sid, soft)).containsAll(acknowledged);
    soft.assertAll();
  }
}
