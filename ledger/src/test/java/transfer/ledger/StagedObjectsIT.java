package transfer.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Staged objects: replaced, read and deleted by name. */
class StagedObjectsIT extends LedgerFixture {
  StagedObjectsIT() {
    super("2026-03-01T00:00:00Z");
  }

  @Test
  void replacingAnObjectAnswersTheOldLocationAndDeletingForgetsIt() {
    var o1 = new StoredObject(tenant, session, "a.bin", "file:///o/1", 1, "00", clock.instant());
    assertThat(ledger.stagedObjects().putObject(o1)).isEmpty();
    var o2 = new StoredObject(tenant, session, "a.bin", "file:///o/2", 2, "11", clock.instant());
    assertThat(ledger.stagedObjects().putObject(o2)).contains("file:///o/1");
    assertThat(ledger.stagedObjects().object(tenant, session, "a.bin").orElseThrow().size())
        .isEqualTo(2);
    assertThat(ledger.stagedObjects().object("other-tenant", session, "a.bin")).isEmpty();
    assertThat(
            ledger.stagedObjects().deleteObject(tenant, session, "a.bin").orElseThrow().location())
        .isEqualTo("file:///o/2");
    assertThat(ledger.stagedObjects().object(tenant, session, "a.bin")).isEmpty();
  }
}
