package transfer.deploy.chaos;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/**
 * What every fault-injection class shares: the one cluster of this test JVM, restored to health
 * after each test (workers thawed and running, broker and database up), and the "chaos" tag that
 * keeps these classes in their own failsafe execution.
 */
@Tag("chaos")
abstract class ChaosTest {
  static final long KIB = 1 << 10;
  static final long MIB = 1 << 20;
  static ChaosCluster cluster;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster = ChaosCluster.get();
  }

  @AfterEach
  void restoreCluster() {
    cluster.restore();
  }
}
