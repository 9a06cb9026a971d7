package dev.mgmstream.views;

import java.util.Map;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.GeneratedImage;
import dev.mgmstream.schemas.avro.ImageAnswer;
import dev.mgmstream.schemas.avro.ImageReport;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.Rejection;
import dev.mgmstream.schemas.avro.TaskStatus;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.serde.AvroSerdes;
import dev.mgmstream.schemas.serde.SerdeConfig;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;

/** The value serdes of the views' topology: the pipeline's topics it reads, its own topics and stores. */
record ViewsSerdes(Serde<ImageTask> tasks, Deserializer<VisualTokens> tokens, Serde<Answer> answers,
                   Serde<GeneratedImage> generated, Serde<Rejection> rejections, Serde<TaskStatus> status,
                   Serde<ImageAnswer> imageAnswers, Serde<ImageReport> reports, Serde<Caption> captions,
                   Serde<Caption> captionStore) {

    static ViewsSerdes of(SchemaRegistryClient registry, Map<String, String> config) {
        SerdeConfig user = SerdeConfig.fromMap(config);
        // The internal topics (changelogs, repartitions) are this stage's alone and named by Kafka Streams: no
        // one registers their schemas ahead, so their serializers always register their own, whatever the
        // deployment says for the pipeline's topics.
        SerdeConfig internal = new SerdeConfig(true);
        return new ViewsSerdes(
                serde(ImageTask.class, registry, user),
                AvroSerdes.valueDeserializer(VisualTokens.class, registry),
                serde(Answer.class, registry, user),
                serde(GeneratedImage.class, registry, user),
                serde(Rejection.class, registry, user),
                serde(TaskStatus.class, registry, internal),
                serde(ImageAnswer.class, registry, internal),
                serde(ImageReport.class, registry, internal),
                serde(Caption.class, registry, user),
                serde(Caption.class, registry, internal));
    }

    private static <T extends SpecificRecordBase> Serde<T> serde(Class<T> type, SchemaRegistryClient registry,
                                                                 SerdeConfig config) {
        return AvroSerdes.valueSerde(type, registry, config);
    }
}
