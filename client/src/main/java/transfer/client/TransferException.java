package transfer.client;

/** Base of every exception the client throws: unchecked, so a command line can catch it once. */
public class TransferException extends RuntimeException {
  public TransferException(String message) {
    super(message);
  }

  public TransferException(String message, Throwable cause) {
    super(message, cause);
  }
}
