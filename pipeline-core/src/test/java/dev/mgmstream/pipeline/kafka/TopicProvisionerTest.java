package dev.mgmstream.pipeline.kafka;

import dev.mgmstream.devkit.kafka.SharedKafka;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.schemas.topics.TopicSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;

class TopicProvisionerTest {

    @Test
    void createsMissingTopicsWithTheirSettingsAndIsIdempotent() throws Exception {
        TopicSpec answers = spec(TopicRole.ANSWERS, "prov-answers", 3, Map.of("max.message.bytes", "2097152",
                "retention.ms", "86400000"));
        TopicSpec cache = spec(TopicRole.VISUAL_TOKEN_CACHE, "prov-cache", 2, Map.of("cleanup.policy", "compact"));
        try (Admin admin = admin()) {
            TopicProvisioner provisioner = new TopicProvisioner(admin);
            assertThat(provisioner.ensure(List.of(answers, cache))).containsExactlyInAnyOrder("prov-answers", "prov-cache");
            assertThat(provisioner.ensure(List.of(answers, cache))).as("second run creates nothing").isEmpty();

            assertThat(admin.describeTopics(List.of("prov-answers")).allTopicNames().get()
                    .get("prov-answers").partitions()).hasSize(3);
            ConfigResource cacheResource = new ConfigResource(ConfigResource.Type.TOPIC, "prov-cache");
            assertThat(admin.describeConfigs(List.of(cacheResource)).all().get().get(cacheResource)
                    .get("cleanup.policy").value()).isEqualTo("compact");
            ConfigResource answersResource = new ConfigResource(ConfigResource.Type.TOPIC, "prov-answers");
            assertThat(admin.describeConfigs(List.of(answersResource)).all().get().get(answersResource)
                    .get("max.message.bytes").value()).isEqualTo("2097152");
        }
    }

    @Test
    void refusesExistingTopicsThatCannotWorkAndSaysWhy() throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(
                    new NewTopic("prov-bad-log", Optional.of(1), Optional.empty())
                            .configs(Map.of("max.message.bytes", "1000")),
                    new NewTopic("prov-bad-cache", Optional.of(2), Optional.empty()))).all().get();
            TopicSpec log = spec(TopicRole.ANSWERS, "prov-bad-log", 3, Map.of("max.message.bytes", "2097152"));
            TopicSpec cache = spec(TopicRole.VISUAL_TOKEN_CACHE, "prov-bad-cache", 2, Map.of("cleanup.policy", "compact"));

            assertThatThrownBy(() -> new TopicProvisioner(admin).ensure(List.of(log, cache)))
                    .isInstanceOf(TopicMisconfiguredException.class)
                    .hasMessageContaining("prov-bad-log: has 1 partitions, needs at least 3")
                    .hasMessageContaining("prov-bad-log: max.message.bytes is 1000, needs at least 2097152")
                    .hasMessageContaining("prov-bad-cache: is a cache and needs cleanup.policy=compact");
        }
    }

    private static Admin admin() {
        return Admin.create(Map.of("bootstrap.servers", SharedKafka.bootstrapServers()));
    }

    private static TopicSpec spec(TopicRole role, String name, int partitions, Map<String, String> configs) {
        Class<? extends org.apache.avro.specific.SpecificRecord> type =
                role == TopicRole.VISUAL_TOKEN_CACHE ? VisualTokens.class : Answer.class;
        return new TopicSpec(role, name, partitions, (short) 1, String.class, type, configs);
    }
}
