package transfer.api.relay;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.junit.jupiter.api.Test;

class TenantTopicsTest {
  private static final Node BROKER = new Node(1, "127.0.0.1", 9092);

  @Test
  void aTopicIsReadyOnlyWhenEveryPartitionHasALeader() {
    assertThat(TenantTopics.led(topic(BROKER, BROKER, BROKER))).isTrue();
    assertThat(TenantTopics.led(topic(BROKER, null, BROKER))).as("one without a leader").isFalse();
    assertThat(TenantTopics.led(topic(BROKER, Node.noNode()))).as("the no-node leader").isFalse();
    assertThat(TenantTopics.led(topic())).as("no partitions yet").isFalse();
  }

  private static TopicDescription topic(Node... leaders) {
    List<TopicPartitionInfo> partitions = new java.util.ArrayList<>();
    for (int i = 0; i < leaders.length; i++) {
      partitions.add(new TopicPartitionInfo(i, leaders[i], List.of(BROKER), List.of(BROKER)));
    }
    return new TopicDescription("transfer-events.acme", false, partitions);
  }
}
