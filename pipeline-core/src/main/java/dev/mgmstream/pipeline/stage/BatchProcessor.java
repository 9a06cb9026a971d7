package dev.mgmstream.pipeline.stage;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.AbstractRecords;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.RecordBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything a batch goes through between poll and produce, off the poll thread: decoding, the
 * batch function (through {@link BatchExecutor}), encoding, and turning failures into dead-letter
 * records plus whatever the stage's {@link RejectionHook} adds. A failure to decode or to encode
 * one input is that input's failure alone, and so is an output too large for the producer: sent, it
 * would fail the whole transaction, and the batch would be replayed into the same failure forever.
 */
final class BatchProcessor<K, V> {

    static final String HEADER_PREFIX = "mgm.error.";

    private static final Logger log = LoggerFactory.getLogger(BatchProcessor.class);

    private final StageDefinition<K, V> stage;
    private final BatchExecutor<K, V> executor;
    private final Clock clock;
    private final int maxRecordBytes;

    BatchProcessor(StageDefinition<K, V> stage, BatchExecutor<K, V> executor, Clock clock, int maxRecordBytes) {
        this.stage = stage;
        this.executor = executor;
        this.clock = clock;
        this.maxRecordBytes = maxRecordBytes;
    }

    Prepared process(List<ConsumerRecord<byte[], byte[]>> batch) throws TransientBatchException, InterruptedException {
        List<RawRecord> raws = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            raws.add(new RawRecord(i, batch.get(i)));
        }
        List<InputRecord<K, V>> decoded = new ArrayList<>(batch.size());
        Map<Integer, BatchExecutor.Failure> failures = new java.util.HashMap<>();
        InputRecord<K, V>[] byIndex = newArray(batch.size());
        for (RawRecord raw : raws) {
            try {
                InputRecord<K, V> in = decode(raw);
                decoded.add(in);
                byIndex[raw.index()] = in;
            } catch (RuntimeException e) {
                failures.put(raw.index(), new BatchExecutor.Failure(e, 1));
            }
        }
        BatchExecutor.Result result = executor.run(decoded);
        failures.putAll(result.failures());

        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        int outputs = 0;
        int rejected = 0;
        for (RawRecord raw : raws) {
            BatchExecutor.Failure failure = failures.get(raw.index());
            if (failure == null) {
                List<Output<?, ?>> mine = result.outputs().getOrDefault(raw.index(), List.of());
                try {
                    List<ProducerRecord<byte[], byte[]>> encoded = encodeAll(mine);
                    out.addAll(encoded);
                    outputs += encoded.size();
                    continue;
                } catch (RuntimeException e) {
                    failure = new BatchExecutor.Failure(e, 1);
                }
            }
            rejected++;
            RejectedRecord r = RejectedRecord.of(stage.name(), raw, failure.reason(), clock.instant(), failure.attempts());
            out.add(deadLetter(r));
            out.addAll(hookOutputs(r, Optional.ofNullable(byIndex[raw.index()])));
        }
        return new Prepared(List.copyOf(out), outputs, rejected, result.calls());
    }

    private InputRecord<K, V> decode(RawRecord raw) {
        ConsumerRecord<byte[], byte[]> r = raw.record();
        K key = stage.keyDeserializer().deserialize(r.topic(), r.headers(), r.key());
        V value = stage.valueDeserializer().deserialize(r.topic(), r.headers(), r.value());
        return new InputRecord<>(raw.index(), r.topic(), r.partition(), r.offset(), r.timestamp(), key, value);
    }

    private List<ProducerRecord<byte[], byte[]>> encodeAll(List<Output<?, ?>> outputs) {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>(outputs.size());
        for (Output<?, ?> o : outputs) {
            ProducerRecord<byte[], byte[]> r = encode(o);
            // the bound the producer itself checks against max.request.size before it sends
            int size = AbstractRecords.estimateSizeInBytesUpperBound(RecordBatch.CURRENT_MAGIC_VALUE,
                    CompressionType.NONE, r.key(), r.value(), r.headers().toArray());
            if (size > maxRecordBytes) {
                throw new RecordTooLargeException("the output for " + r.topic() + " is " + size
                        + " bytes, over the producer's max.request.size of " + maxRecordBytes);
            }
            records.add(r);
        }
        return records;
    }

    private static <K2, V2> ProducerRecord<byte[], byte[]> encode(Output<K2, V2> o) {
        String topic = o.topic().name();
        byte[] key = o.key() == null ? null : o.topic().keySerializer().serialize(topic, o.key());
        byte[] value = o.value() == null ? null : o.topic().valueSerializer().serialize(topic, o.value());
        return new ProducerRecord<>(topic, null, key, value);
    }

    private ProducerRecord<byte[], byte[]> deadLetter(RejectedRecord r) {
        RecordHeaders headers = new RecordHeaders();
        header(headers, "class", r.errorClass());
        header(headers, "message", r.errorMessage());
        header(headers, "stage", r.stage());
        header(headers, "source.topic", r.sourceTopic());
        header(headers, "source.partition", String.valueOf(r.partition()));
        header(headers, "source.offset", String.valueOf(r.offset()));
        header(headers, "attempt", String.valueOf(r.attempt()));
        header(headers, "time", r.time().toString());
        byte[] value = stage.deadLetterEncoder().encode(stage.deadLetterTopic(), r);
        return new ProducerRecord<>(stage.deadLetterTopic(), null, r.key(), value, headers);
    }

    private List<ProducerRecord<byte[], byte[]>> hookOutputs(RejectedRecord r, Optional<InputRecord<K, V>> decoded) {
        try {
            return encodeAll(stage.rejectionHook().onRejected(r, decoded));
        } catch (RuntimeException e) {
            // Failing the batch here would replay it forever; the dead-letter record already keeps the input.
            log.error("Stage {}: rejection hook failed for {}-{}@{}; only the dead-letter record is written",
                    stage.name(), r.sourceTopic(), r.partition(), r.offset(), e);
            return List.of();
        }
    }

    private static void header(RecordHeaders headers, String name, String value) {
        if (value != null) {
            headers.add(HEADER_PREFIX + name, value.getBytes(StandardCharsets.UTF_8));
        }
    }

    @SuppressWarnings("unchecked")
    private static <K, V> InputRecord<K, V>[] newArray(int n) {
        return (InputRecord<K, V>[]) new InputRecord<?, ?>[n];
    }
}
