package transfer.cli;

import java.io.PrintWriter;
import java.util.List;
import transfer.client.ProgressListener;

/**
 * Progress lines on standard error, redrawn in place on a terminal; nothing on a pipe or with
 * {@code --json}, so scripts read clean output. The final line goes to standard output ({@link
 * #result}), after the progress block is cleared.
 */
final class Screen {
  private final PrintWriter err;
  private final PrintWriter out;
  private final boolean live;
  private final int columns;
  private int drawn;

  Screen(PrintWriter out, PrintWriter err, boolean live, int columns) {
    this.out = out;
    this.err = err;
    this.live = live;
    this.columns = columns;
  }

  /**
   * A terminal: standard error is one (the launcher tells, {@code [[ -t 2 ]]}; without the
   * launcher, a console on stdin/stdout), {@code TERM} is set and not "dumb", and
   * TRANSFER_NO_PROGRESS is not. The width comes from the launcher ({@code stty size}), else {@code
   * COLUMNS}, else 80.
   */
  static Screen forTerminal(boolean quiet, PrintWriter out, PrintWriter err) {
    String term = System.getenv("TERM");
    String stderrTty = System.getProperty("transfer.cli.stderr-tty");
    boolean tty = stderrTty != null ? stderrTty.equals("true") : System.console() != null;
    boolean live =
        !quiet
            && tty
            && term != null
            && !term.equals("dumb")
            && System.getenv("TRANSFER_NO_PROGRESS") == null;
    return new Screen(out, err, live, terminalColumns());
  }

  private static int terminalColumns() {
    for (String v :
        new String[] {System.getProperty("transfer.cli.columns"), System.getenv("COLUMNS")}) {
      try {
        if (v != null && Integer.parseInt(v.trim()) > 10) {
          return Integer.parseInt(v.trim());
        }
      } catch (NumberFormatException ignored) {
        // not a number: try the next source
      }
    }
    return 80;
  }

  boolean live() {
    return live;
  }

  int columns() {
    return columns;
  }

  /**
   * Replaces the block drawn last with {@code lines}, each cut to the terminal's width so none
   * wraps. The cursor stays at the end of the block's last line: a redraw goes back to the block's
   * first line, clears to the end of the screen and writes the block again.
   */
  synchronized void draw(List<String> lines) {
    if (!live) {
      return;
    }
    StringBuilder b = new StringBuilder();
    home(b);
    for (int i = 0; i < lines.size(); i++) {
      if (i > 0) {
        b.append('\n');
      }
      b.append(Render.fit(lines.get(i), columns - 1));
    }
    err.print(b);
    err.flush();
    drawn = lines.size();
  }

  private void home(StringBuilder b) {
    b.append('\r');
    if (drawn > 1) {
      b.append("\033[").append(drawn - 1).append('A');
    }
    b.append("\033[J");
  }

  /**
   * A listener that draws one bar for a body this process moves itself (an upload's staging, a copy
   * out of the cluster), at most ten times a second and once at the end; {@code expected} is used
   * while the total is unknown.
   */
  ProgressListener bar(String label, Long expected) {
    long[] last = {0};
    return (done, total) -> {
      long now = System.currentTimeMillis();
      if (now - last[0] >= 100 || done == total) {
        last[0] = now;
        Long size = total < 0 ? expected : Long.valueOf(total);
        draw(List.of(Render.progressLine(label, "running", done, size, 0, now / 100, columns)));
      }
    };
  }

  /** Clears the progress block, leaving the cursor where it began. */
  synchronized void clear() {
    if (!live || drawn == 0) {
      return;
    }
    StringBuilder b = new StringBuilder();
    home(b);
    err.print(b);
    err.flush();
    drawn = 0;
  }

  /** The final line (or lines), on standard output. */
  synchronized void result(String line) {
    clear();
    out.println(line);
    out.flush();
  }

  /** A note for the person (a hint, a warning), on standard error. */
  synchronized void note(String line) {
    clear();
    err.println(line);
    err.flush();
  }
}
