package transfer.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import transfer.contracts.Metric;

/**
 * deploy/grafana/transfer-cluster.json is built on the metrics the services serve: every series a
 * panel's query names is one of {@link Metric}'s (the list the services register by and their tests
 * read back from {@code /q/metrics}), every metric has a panel, and the queries use each kind the
 * way Prometheus can: rates of counters and histogram buckets only.
 */
class GrafanaDashboardTest {
  private static final Pattern SERIES = Pattern.compile("\\btransfer_[a-z0-9_]+");
  private static final Pattern RATED = Pattern.compile("\\b(?:rate|increase)\\(\\s*([a-z_0-9]+)");
  private static final String DATASOURCE = "${DS_PROMETHEUS}";

  private static JsonNode dashboard() throws Exception {
    Path file = Path.of(System.getProperty("basedir", "."), "grafana", "transfer-cluster.json");
    return new ObjectMapper().readTree(Files.readString(file));
  }

  /** Every panel that draws something, rows' own panels included. */
  private static List<JsonNode> panels(JsonNode dashboard) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode p : dashboard.path("panels")) {
      if (p.path("type").asText().equals("row")) {
        p.path("panels").forEach(out::add);
      } else {
        out.add(p);
      }
    }
    return out;
  }

  private static List<String> expressions(JsonNode dashboard) {
    List<String> out = new ArrayList<>();
    for (JsonNode p : panels(dashboard)) {
      for (JsonNode t : p.path("targets")) {
        out.add(t.path("expr").asText());
      }
    }
    return out;
  }

  @Test
  void everyQueriedSeriesIsOneTheServicesServeAndEveryMetricIsShown() throws Exception {
    Set<String> served = new HashSet<>();
    for (Metric m : Metric.values()) {
      served.addAll(m.series());
    }
    Set<String> used = new HashSet<>();
    for (String expr : expressions(dashboard())) {
      Matcher names = SERIES.matcher(expr);
      boolean any = false;
      while (names.find()) {
        any = true;
        assertThat(served).as("series %s in %s", names.group(), expr).contains(names.group());
        used.add(names.group());
      }
      assertThat(any).as("%s queries a metric of the cluster", expr).isTrue();
    }
    for (Metric m : Metric.values()) {
      assertThat(m.series().stream().anyMatch(used::contains))
          .as("a panel shows %s", m.prometheusName())
          .isTrue();
    }
  }

  @Test
  void onlyCountersAndHistogramBucketsAreRated() throws Exception {
    Set<String> rateable = new HashSet<>();
    for (Metric m : Metric.values()) {
      if (m.kind() == Metric.Kind.COUNTER) {
        rateable.add(m.prometheusName());
      } else if (m.kind() == Metric.Kind.TIMER || m.kind() == Metric.Kind.SUMMARY) {
        rateable.addAll(m.series().subList(0, 3)); // _bucket, _count, _sum; not _max
      }
    }
    for (String expr : expressions(dashboard())) {
      Matcher rated = RATED.matcher(expr);
      while (rated.find()) {
        assertThat(rateable).as("rate of %s in %s", rated.group(1), expr).contains(rated.group(1));
      }
      if (expr.contains("histogram_quantile")) {
        assertThat(expr).contains("_bucket").containsPattern("by \\((le\\b|[^)]*\\ble\\b)");
      }
      for (Metric m : Metric.values()) {
        if (m.kind() == Metric.Kind.COUNTER && expr.contains(m.prometheusName())) {
          assertThat(expr).as("counter %s is rated", m.prometheusName()).containsPattern(RATED);
        }
      }
    }
  }

  @Test
  void everyPanelQueriesThePrometheusDatasourceVariable() throws Exception {
    JsonNode d = dashboard();
    assertThat(d.path("schemaVersion").asInt()).isGreaterThanOrEqualTo(36);
    JsonNode variable = null;
    for (JsonNode v : d.path("templating").path("list")) {
      if (v.path("name").asText().equals("DS_PROMETHEUS")) {
        variable = v;
      }
    }
    assertThat(variable).as("a DS_PROMETHEUS variable").isNotNull();
    assertThat(variable.path("type").asText()).isEqualTo("datasource");
    assertThat(variable.path("query").asText()).isEqualTo("prometheus");

    Set<Integer> ids = new HashSet<>();
    for (JsonNode p : panels(d)) {
      String title = p.path("title").asText();
      assertThat(ids.add(p.path("id").asInt())).as("unique id of %s", title).isTrue();
      assertThat(p.path("datasource").path("uid").asText()).as(title).isEqualTo(DATASOURCE);
      assertThat(p.path("targets").size()).as("queries of %s", title).isPositive();
      for (JsonNode t : p.path("targets")) {
        assertThat(t.path("datasource").path("uid").asText()).as(title).isEqualTo(DATASOURCE);
        assertThat(t.path("expr").asText()).as(title).isNotBlank();
      }
      assertThat(p.path("gridPos").path("w").asInt()).as(title).isBetween(1, 24);
    }
  }
}
