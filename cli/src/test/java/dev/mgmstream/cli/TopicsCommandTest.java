package dev.mgmstream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;

/** {@code mgm topics} against a running broker, and as Strimzi resources. */
class TopicsCommandTest {

    @Test
    void applyCreatesTheCatalogueThenReportsATopicChangedBehindItsBack() throws Exception {
        String bootstrap = SharedKafka.bootstrapServers();
        String[] prefix = {"--set", "topics.prefix=tc."};
        Object[] first = MgmTest.mgm(concat("topics", "apply", "--bootstrap-servers", bootstrap, prefix));
        int count = TopicCatalogue.fromConfig(Map.of("topics.prefix", "tc.")).all().size();
        assertThat(first[0]).as((String) first[2]).isEqualTo(0);
        assertThat((String) first[1]).contains(count + " topics: " + count + " created, 0 difference(s)");

        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            ConfigResource answers = new ConfigResource(ConfigResource.Type.TOPIC, "tc.answers");
            admin.incrementalAlterConfigs(Map.of(answers, List.of(new AlterConfigOp(
                    new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET)))).all().get();
        }
        Object[] again = MgmTest.mgm(concat("topics", "apply", "--bootstrap-servers", bootstrap, prefix));
        assertThat(again[0]).isEqualTo(1);
        assertThat((String) again[1]).contains("differs tc.answers: retention.ms 1000, the catalogue says")
                .contains("0 created, 1 difference(s)");
    }

    @Test
    void listPrintsAKafkaTopicForEveryTopicOfTheCatalogue() {
        Object[] r = MgmTest.mgm("topics", "list", "--format", "strimzi", "--cluster", "prod");
        assertThat(r[0]).isEqualTo(0);
        String yaml = (String) r[1];
        for (TopicSpec s : TopicCatalogue.defaults().all()) {
            assertThat(yaml).contains("  topicName: " + s.name() + "\n  partitions: " + s.partitions() + "\n");
        }
        assertThat(yaml).contains("strimzi.io/cluster: prod").doesNotContain("name: mgm.");
    }

    private static String[] concat(String a, String b, String c, String d, String[] rest) {
        String[] all = new String[4 + rest.length];
        all[0] = a;
        all[1] = b;
        all[2] = c;
        all[3] = d;
        System.arraycopy(rest, 0, all, 4, rest.length);
        return all;
    }
}
