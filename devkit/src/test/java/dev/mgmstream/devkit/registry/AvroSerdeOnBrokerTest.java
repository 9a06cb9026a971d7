package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.mgmstream.devkit.kafka.SharedKafka;
import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.FinishReason;
import dev.mgmstream.schemas.avro.GenerationOptions;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.InlineImage;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskKind;
import dev.mgmstream.schemas.serde.AvroDeserializer;
import dev.mgmstream.schemas.serde.AvroSerde;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.serde.AvroSerializer;
import dev.mgmstream.schemas.serde.SerdeConfig;
import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicRole;
import dev.mgmstream.schemas.topics.TopicSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The serdes against the in-process registry and broker: bytes, round trips, evolution and failures. */
class AvroSerdeOnBrokerTest {
    private RegistryFixture fixture;

    @BeforeEach
    void start() {
        fixture = new RegistryFixture();
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    @Test
    void writesTheExactConfluentBytesOfAKnownRecord() {
        Rejection rejection = Rejection.newBuilder()
                .setSourceTopic("t").setPartition(2).setOffset(300)
                .setKey(ByteBuffer.wrap(new byte[] {1, 2})).setValue(null)
                .setErrorClass("E").setErrorMessage(null).setStage("sink")
                .setTime(Instant.ofEpochMilli(1)).setAttempt(1).setTaskId("a")
                .build();

        byte[] bytes = new AvroSerializer<Rejection>(fixture.client, SerdeConfig.defaults(), false)
                .serialize("mgm.dlq.sink", rejection);

        assertThat(bytes).containsExactly(
                0x00,                   // magic byte
                0x00, 0x00, 0x00, 0x01, // schema id 1, big-endian: the first schema of a fresh registry
                0x02, 't',              // source_topic "t"
                0x04,                   // partition 2 (zig-zag)
                0xD8, 0x04,             // offset 300 -> zig-zag 600 -> varint
                0x02, 0x04, 0x01, 0x02, // key: union branch 1, length 2, {1, 2}
                0x00,                   // value: null branch
                0x02, 'E',              // error_class "E"
                0x00,                   // error_message: null branch
                0x08, 's', 'i', 'n', 'k', // stage "sink"
                0x02,                   // time 1 ms
                0x02,                   // attempt 1
                0x02, 0x02, 'a');       // task_id: union branch 1, "a"
        assertThat(fixture.client.latest("mgm.dlq.sink-value").schema()).isEqualTo(Rejection.getClassSchema());
    }

    @Test
    void recordsRoundTripThroughTheBrokerWithSerdesConfiguredByKafka() {
        TopicCatalogue topics = TopicCatalogue.fromConfig(Map.of("topics.prefix", "serde-" + UUID.randomUUID() + "."));
        TopicSpec spec = topics.spec(TopicRole.IMAGE_TASKS);
        String topic = spec.name();
        createTopic(spec);
        ImageTask task = imageTask("task-1");

        try (KafkaProducer<String, ImageTask> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, SharedKafka.bootstrapServers(),
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, AvroSerializer.class,
                "schema.registry.url", fixture.registry.url()))) {
            producer.send(new ProducerRecord<>(topic, task.getTaskId(), task)).get();
        } catch (Exception e) {
            throw new AssertionError(e);
        }

        List<ImageTask> received = new ArrayList<>();
        try (KafkaConsumer<String, ImageTask> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, SharedKafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "serde-test-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, AvroDeserializer.class,
                "schema.registry.url", fixture.registry.url(),
                "specific.avro.value.type", ImageTask.class.getName()))) {
            consumer.subscribe(List.of(topic));
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> received.add(r.value()));
                return !received.isEmpty();
            });
        }

        assertThat(received).containsExactly(task);
        assertThat(fixture.client.subjects()).containsExactly(topic + "-value");
    }

    @Test
    void aSerdeFromTheCatalogueRoundTripsAnAnswer() {
        TopicCatalogue topics = TopicCatalogue.defaults();
        Answer answer = Answer.newBuilder()
                .setTaskId("task-2").setImageId("ab".repeat(32)).setStatus(AnswerStatus.OK).setText("A cat on a mat.")
                .setFinishReason(FinishReason.STOP).setPromptTokens(600).setCompletionTokens(7)
                .setModelId("mgm-2b").setLatencies(Map.of("encoders", 12L, "reasoning", 340L))
                .setKind(TaskKind.CAPTION).setAttributes(Map.of("tenant", "acme")).build();

        try (AvroSerde<Answer> serde = AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), Answer.class, fixture.client, Map.of())) {
            byte[] bytes = serde.serializer().serialize(topics.name(TopicRole.ANSWERS), answer);

            assertThat(serde.deserializer().deserialize(topics.name(TopicRole.ANSWERS), bytes)).isEqualTo(answer);
        }
        assertThatThrownBy(() -> AvroSerdes.valueSerde(topics.spec(TopicRole.ANSWERS), ImageTask.class, fixture.client, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mgm.answers");
    }

    @Test
    void anOldReaderReadsARecordWrittenWithTheCurrentSchema() throws IOException {
        Schema v1;
        try (InputStream in = getClass().getResourceAsStream("/avro/v1/ImageTask.avsc")) {
            v1 = new Schema.Parser().parse(in);
        }
        ImageTask task = imageTask("task-3");
        byte[] bytes = new AvroSerializer<ImageTask>(fixture.client, SerdeConfig.defaults(), false).serialize("tasks", task);

        GenericRecord old = AvroDeserializer.generic(fixture.client, v1).deserialize("tasks", bytes);

        assertThat(old.getSchema()).isEqualTo(v1);
        assertThat(old.get("task_id")).hasToString("task-3");
        assertThat(old.get("kind")).hasToString("VQA");
        assertThat(old.get("prompt")).hasToString("Is the cat asleep?");
        assertThat(old.get("submitted_at")).isEqualTo(task.getSubmittedAt().toEpochMilli());
        assertThat(((ByteBuffer) ((GenericRecord) old.get("image")).get("data")).remaining()).isEqualTo(4);
        assertThat(old.hasField("attributes")).isFalse();
    }

    @Test
    void anUnknownSchemaIdIsReportedByNumberWithTheTopic() {
        byte[] framed = {0, 0, 0, 0x10, (byte) 0x92, 0x02, 'x'}; // id 4242

        assertThatThrownBy(() -> AvroDeserializer.specific(fixture.client, Answer.class).deserialize("mgm.answers", framed))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("id 4242").hasMessageContaining("mgm.answers");
    }

    @Test
    void withoutAutoRegistrationAWriterOnlyUsesSchemasAlreadyRegistered() {
        AvroSerializer<ImageTask> serializer = new AvroSerializer<>(fixture.client, new SerdeConfig(false), false);

        assertThatThrownBy(() -> serializer.serialize("mgm.image-tasks", imageTask("t")))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("mgm.image-tasks-value").hasMessageContaining("look up");

        int id = fixture.client.register("mgm.image-tasks-value", ImageTask.getClassSchema());
        byte[] bytes = serializer.serialize("mgm.image-tasks", imageTask("t"));
        assertThat(ByteBuffer.wrap(bytes, 1, 4).getInt()).isEqualTo(id);
    }

    @Test
    void aRecordThatCannotBeWrittenIsReportedWithItsTopic() {
        Answer incomplete = new Answer(); // required fields left null, which the builder would refuse

        assertThatThrownBy(() -> new AvroSerializer<Answer>(fixture.client, SerdeConfig.defaults(), false)
                .serialize("mgm.answers", incomplete))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("mgm.answers").hasMessageContaining("Answer");
    }

    private static void createTopic(TopicSpec spec) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, SharedKafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(spec.name(), spec.partitions(), spec.replicationFactor())
                    .configs(spec.configs()))).all().get();
        } catch (Exception e) {
            throw new AssertionError("Could not create " + spec.name(), e);
        }
    }

    private static ImageTask imageTask(String taskId) {
        return ImageTask.newBuilder()
                .setTaskId(taskId)
                .setImageId("cd".repeat(32))
                .setImage(new InlineImage(ByteBuffer.wrap(new byte[] {(byte) 0x89, 'P', 'N', 'G'}), "image/png"))
                .setKind(TaskKind.VQA)
                .setPrompt("Is the cat asleep?")
                .setOptions(new GenerationOptions(32, 0.7f, 0.9f, 42L))
                .setSubmittedAt(Instant.ofEpochMilli(1_700_000_000_000L))
                .setAttributes(Map.of("source", "test"))
                .setTraceId("trace-1")
                .build();
    }
}
