package dev.mgmstream.schemas.topics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.VisualTokens;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TopicCatalogueTest {

    @Test
    void defaultsNameEveryTopicWithTheMgmPrefix() {
        TopicCatalogue topics = TopicCatalogue.defaults();

        assertThat(topics.prefix()).isEqualTo("mgm.");
        assertThat(topics.all()).extracting(TopicSpec::name).containsExactly(
                "mgm.image-tasks", "mgm.visual-tokens", "mgm.answers", "mgm.generation-requests",
                "mgm.generated-images", "mgm.dlq.encoders", "mgm.dlq.reasoning", "mgm.dlq.generation",
                "mgm.dlq.sink", "mgm.visual-token-cache", "mgm.captions");
        assertThat(topics.spec(TopicRole.IMAGE_TASKS).valueType()).isEqualTo(ImageTask.class);
        assertThat(topics.spec(TopicRole.ANSWERS).valueType()).isEqualTo(Answer.class);
        assertThat(topics.spec(TopicRole.VISUAL_TOKEN_CACHE).valueType()).isEqualTo(VisualTokens.class);
        assertThat(topics.spec(TopicRole.CAPTIONS).valueType()).isEqualTo(Caption.class);
        assertThat(topics.all()).filteredOn(s -> s.role().deadLetter())
                .hasSize(4).allSatisfy(s -> assertThat(s.valueType()).isEqualTo(Rejection.class));
        assertThat(topics.all()).allSatisfy(s -> {
            assertThat(s.partitions()).isEqualTo(3);
            assertThat(s.replicationFactor()).isEqualTo((short) 1);
            assertThat(s.keyType()).isEqualTo(String.class);
            assertThat(s.config("max.message.bytes")).isEqualTo("8388608");
        });
    }

    @Test
    void onlyTheCacheAndTheCaptionsAreCompactedAndOnlyTheOthersExpire() {
        TopicCatalogue topics = TopicCatalogue.defaults();
        Set<TopicRole> compacted = Set.of(TopicRole.VISUAL_TOKEN_CACHE, TopicRole.CAPTIONS);

        for (TopicRole role : compacted) {
            assertThat(topics.spec(role).configs()).containsEntry("cleanup.policy", "compact").doesNotContainKey("retention.ms");
        }
        assertThat(topics.all()).filteredOn(s -> !compacted.contains(s.role())).allSatisfy(s ->
                assertThat(s.configs()).containsEntry("cleanup.policy", "delete").containsEntry("retention.ms", "604800000"));
    }

    @Test
    void prefixAndSettingsComeFromConfigurationWithPerTopicOverrides() {
        TopicCatalogue topics = TopicCatalogue.fromConfig(Map.of(
                "topics.prefix", "staging.",
                "topics.partitions", "6",
                "topics.image-tasks.partitions", "12",
                "topics.max.message.bytes", "2097152",
                "topics.answers.max.message.bytes", "65536",
                "topics.dlq.sink.retention.ms", "2592000000"));

        assertThat(topics.name(TopicRole.IMAGE_TASKS)).isEqualTo("staging.image-tasks");
        assertThat(topics.spec(TopicRole.IMAGE_TASKS).partitions()).isEqualTo(12);
        assertThat(topics.spec(TopicRole.ANSWERS).partitions()).isEqualTo(6);
        assertThat(topics.spec(TopicRole.ANSWERS).config("max.message.bytes")).isEqualTo("65536");
        assertThat(topics.spec(TopicRole.VISUAL_TOKENS).config("max.message.bytes")).isEqualTo("2097152");
        assertThat(topics.spec(TopicRole.DLQ_SINK).config("retention.ms")).isEqualTo("2592000000");
        assertThat(topics.spec(TopicRole.DLQ_ENCODERS).config("retention.ms")).isEqualTo("604800000");
        assertThat(topics.byName("staging.dlq.sink")).map(TopicSpec::role).contains(TopicRole.DLQ_SINK);
        assertThat(topics.byName("mgm.dlq.sink")).isEmpty();
        assertThat(topics.spec(TopicRole.ANSWERS).valueSubject()).isEqualTo("staging.answers-value");
    }

    @Test
    void propertiesWorkLikeAMap() {
        Properties properties = new Properties();
        properties.setProperty("topics.prefix", "");
        properties.setProperty("topics.visual-tokens.partitions", "1");

        TopicCatalogue topics = TopicCatalogue.fromProperties(properties);

        assertThat(topics.name(TopicRole.VISUAL_TOKENS)).isEqualTo("visual-tokens");
        assertThat(topics.spec(TopicRole.VISUAL_TOKENS).partitions()).isEqualTo(1);
    }

    @Test
    void perTopicKeysMayWriteHyphensAsDotsSoThatEnvironmentVariablesCanSetThem() {
        // MGM_TOPICS_VISUAL_TOKEN_CACHE_PARTITIONS arrives as topics.visual.token.cache.partitions
        TopicCatalogue topics = TopicCatalogue.fromConfig(Map.of(
                "topics.visual.token.cache.partitions", "9",
                "topics.dlq.reasoning.retention.ms", "1000"));

        assertThat(topics.spec(TopicRole.VISUAL_TOKEN_CACHE).partitions()).isEqualTo(9);
        assertThat(topics.spec(TopicRole.DLQ_REASONING).config("retention.ms")).isEqualTo("1000");
        assertThatThrownBy(() -> TopicCatalogue.fromConfig(Map.of("topics.visual.tokens.cache.partitions", "9")))
                .hasMessageContaining("visual.tokens.cache");
    }

    @Test
    void isImmutable() {
        Map<String, String> config = new HashMap<>(Map.of("topics.prefix", "a."));
        TopicCatalogue topics = TopicCatalogue.fromConfig(config);
        config.put("topics.prefix", "b.");

        assertThat(topics.name(TopicRole.ANSWERS)).isEqualTo("a.answers");
        assertThatThrownBy(() -> topics.all().clear()).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> topics.spec(TopicRole.ANSWERS).configs().put("retention.ms", "1"))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThat(topics.spec(TopicRole.ANSWERS).config("retention.ms")).isEqualTo("604800000");
    }

    @Test
    void rejectsSettingsForTopicsThatDoNotExist() {
        assertThatThrownBy(() -> TopicCatalogue.fromConfig(Map.of("topics.image-task.partitions", "4")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'image-task'").hasMessageContaining("image-tasks");
    }

    @Test
    void rejectsBadValuesNamingTheKey() {
        assertThatThrownBy(() -> TopicCatalogue.fromConfig(Map.of("topics.answers.partitions", "many")))
                .hasMessageContaining("topics.answers.partitions").hasMessageContaining("many");
        assertThatThrownBy(() -> TopicCatalogue.fromConfig(Map.of("topics.partitions", "0")))
                .hasMessageContaining("partitions must be at least 1");
        assertThatThrownBy(() -> TopicCatalogue.fromConfig(Map.of("topics.max.message.bytes", "-5")))
                .hasMessageContaining("max.message.bytes must be positive");
        assertThatThrownBy(() -> TopicCatalogue.fromConfig(Map.of("topics.prefix", "my topics/")))
                .hasMessageContaining("not a legal Kafka topic name");
    }

    @Test
    void findsEachStagesDeadLetterTopic() {
        assertThat(TopicRole.deadLetterFor("encoders")).isEqualTo(TopicRole.DLQ_ENCODERS);
        assertThat(TopicRole.deadLetterFor("Reasoning")).isEqualTo(TopicRole.DLQ_REASONING);
        assertThat(TopicRole.deadLetterFor("generation")).isEqualTo(TopicRole.DLQ_GENERATION);
        assertThat(TopicRole.deadLetterFor("sink")).isEqualTo(TopicRole.DLQ_SINK);
        assertThatThrownBy(() -> TopicRole.deadLetterFor("ingest")).hasMessageContaining("ingest");
    }
}
