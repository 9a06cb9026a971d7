package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.registry.HttpSchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroDeserializer;
import dev.mgmstream.schemas.serde.AvroSerializer;
import dev.mgmstream.schemas.serde.SerdeConfig;
import dev.mgmstream.schemas.serde.WireFormat;
import org.apache.avro.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The serializer's settings as Confluent's serdes define them, against the in-process registry. */
class SerdeStrategiesTest {

    private RegistryFixture fixture;
    private final Answer answer = Answer.newBuilder().setTaskId("t1").setStatus(AnswerStatus.OK).setText("yes").build();

    @BeforeEach
    void start() {
        fixture = new RegistryFixture();
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    @Test
    void aRecordNameStrategyRegistersUnderTheRecordsFullNameAndTopicRecordUnderBoth() {
        serializer(Map.of("value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy"))
                .serialize("any-topic", answer);
        serializer(Map.of("value.subject.name.strategy", "TopicRecordNameStrategy")).serialize("tr", answer);
        assertThat(fixture.client.subjects()).contains("dev.mgmstream.schemas.avro.Answer",
                "tr-dev.mgmstream.schemas.avro.Answer");
        assertThatThrownBy(() -> SerdeConfig.fromMap(Map.of("value.subject.name.strategy", "Mine")))
                .hasMessageContaining("value.subject.name.strategy");
    }

    @Test
    void useLatestVersionWritesWithTheSubjectsLatestSchemaAndReadersGetTheRecordBack() {
        // A later producer added a field with a default; this one, built against the older schema, writes with it.
        Schema later = new Schema.Parser().parse(Answer.getClassSchema().toString().replace(
                "{\"name\":\"trace_id\"", "{\"name\":\"priority\",\"type\":\"int\",\"default\":5},{\"name\":\"trace_id\""));
        int latestId = fixture.client.register("ul-value", later);
        byte[] bytes = serializer(Map.of("auto.register.schemas", "false", "use.latest.version", "true"))
                .serialize("ul", answer);
        assertThat(WireFormat.schemaId(bytes, "ul")).isEqualTo(latestId);
        Answer read = AvroDeserializer.specific(fixture.client, Answer.class).deserialize("ul", bytes);
        assertThat(read).isEqualTo(answer);
        assertThatThrownBy(() -> SerdeConfig.fromMap(Map.of("use.latest.version", "true")))
                .hasMessageContaining("auto.register.schemas=false");
    }

    @Test
    void normalizedRegistrationIsAskedForWhenConfigured() {
        try (SchemaRegistryClient normalizing = HttpSchemaRegistryClient.fromConfig(Map.of(
                "schema.registry.url", fixture.registry.url(), "normalize.schemas", "true"))) {
            int id = normalizing.register("n-value", Answer.getClassSchema());
            assertThat(fixture.client.schemaById(id)).isEqualTo(Answer.getClassSchema());
        }
    }

    private AvroSerializer<Answer> serializer(Map<String, String> config) {
        return new AvroSerializer<>(fixture.client, SerdeConfig.fromMap(config), false);
    }
}
