package transfer.deploy.chaos;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Tails service logs from the moment it was made; lines are tagged with the service name. */
final class LogWatch {
  private final Map<String, Path> logs;
  private final Map<String, Long> offsets = new HashMap<>();
  private final Map<String, StringBuilder> partial = new HashMap<>();
  private final List<String[]> lines = new ArrayList<>();

  LogWatch(Map<String, Path> logs) {
    this.logs = logs;
    for (Map.Entry<String, Path> e : logs.entrySet()) {
      offsets.put(e.getKey(), sizeOf(e.getValue()));
      partial.put(e.getKey(), new StringBuilder());
    }
  }

  private static long sizeOf(Path p) {
    try {
      return Files.exists(p) ? Files.size(p) : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /** Reads what was appended since the last call; answers all lines seen so far. */
  synchronized List<String[]> lines() {
    for (Map.Entry<String, Path> e : logs.entrySet()) {
      String name = e.getKey();
      try (RandomAccessFile f = new RandomAccessFile(e.getValue().toFile(), "r")) {
        long from = offsets.get(name);
        long to = f.length();
        if (to <= from) {
          continue;
        }
        byte[] bytes = new byte[(int) Math.min(to - from, 8 << 20)];
        f.seek(from);
        f.readFully(bytes);
        offsets.put(name, from + bytes.length);
        StringBuilder sb = partial.get(name);
        sb.append(new String(bytes, StandardCharsets.UTF_8));
        int nl;
        while ((nl = sb.indexOf("\n")) >= 0) {
          lines.add(new String[] {name, sb.substring(0, nl)});
          sb.delete(0, nl + 1);
        }
      } catch (IOException ignored) {
        // not written yet
      }
    }
    return List.copyOf(lines);
  }

  /** The first line (service name, matcher) that matches, if any yet. */
  Optional<Map.Entry<String, Matcher>> find(Pattern pattern) {
    for (String[] l : lines()) {
      Matcher m = pattern.matcher(l[1]);
      if (m.find()) {
        return Optional.of(Map.entry(l[0], m));
      }
    }
    return Optional.empty();
  }

  /** Lines of one service that match. */
  List<String> matching(String service, Pattern pattern) {
    return lines().stream()
        .filter(l -> l[0].equals(service) && pattern.matcher(l[1]).find())
        .map(l -> l[1])
        .toList();
  }

  /** Every line that mentions this text, tagged, for assertion messages. */
  String mentioning(String text) {
    return lines().stream()
        .filter(l -> l[1].contains(text))
        .map(l -> l[0] + ": " + l[1])
        .collect(Collectors.joining("\n"));
  }
}
