package transfer.api.object;

import transfer.contracts.ObjectView;
import transfer.ledger.StoredObject;

/** A staged object's ledger row as the API answers it. */
final class ObjectViews {
  private ObjectViews() {}

  static ObjectView of(StoredObject object) {
    return new ObjectView(
        object.name(), object.sessionId(), object.size(), object.sha256(), object.createdAt());
  }
}
