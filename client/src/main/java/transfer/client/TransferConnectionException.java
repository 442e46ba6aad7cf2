package transfer.client;

/**
 * The API could not be reached or the connection broke before a complete answer (after the retries
 * the request allowed). Nothing is known about whether a non-idempotent request took effect; a
 * submit can be repeated safely with the same Idempotency-Key.
 */
public class TransferConnectionException extends TransferException {
  public TransferConnectionException(String message, Throwable cause) {
    super(message, cause);
  }
}
