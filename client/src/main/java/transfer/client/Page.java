package transfer.client;

import java.util.List;

/**
 * One page of a listing: {@code items}, and {@code next}, the {@code after} of the following page
 * (null on the last page).
 */
public record Page<T>(List<T> items, String next) {
  public Page {
    items = List.copyOf(items);
  }

  public boolean hasNext() {
    return next != null;
  }
}
