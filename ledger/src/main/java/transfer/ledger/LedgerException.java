package transfer.ledger;

/** A database failure in the ledger; the message says which operation and which task. */
public class LedgerException extends RuntimeException {
  public LedgerException(String message, Throwable cause) {
    super(message, cause);
  }
}
