package dev.mgmstream.pipeline.stage;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
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
    private static final int MAX_MESSAGE_CHARS = 4096;

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
        Map<Integer, BatchExecutor.Failure> failures = new HashMap<>();
        InputRecord<K, V>[] byIndex = newArray(batch.size());
        for (RawRecord raw : raws) {
            try {
                InputRecord<K, V> in = decode(raw);
                decoded.add(in);
                byIndex[raw.index()] = in;
            } catch (RuntimeException e) {
                if (InfrastructureErrors.isTransient(e)) {
                    throw InfrastructureErrors.asTransient("decoding " + where(raw), e);
                }
                failures.put(raw.index(), new BatchExecutor.Failure(e, 1));
            }
        }
        BatchExecutor.Result result = executor.run(decoded);
        failures.putAll(result.failures());

        // Encode output by output: one that cannot be written fails every input it stands for.
        Map<Integer, List<ProducerRecord<byte[], byte[]>>> encoded = new HashMap<>();
        Map<Integer, List<Integer>> bound = new HashMap<>();
        for (RawRecord raw : raws) {
            for (Output<?, ?> o : result.outputs().getOrDefault(raw.index(), List.of())) {
                List<Integer> sources = o.sources();
                if (sources.size() > 1) {
                    sources.forEach(i -> bound.computeIfAbsent(i, x -> new ArrayList<>()).addAll(sources));
                }
                try {
                    encoded.computeIfAbsent(raw.index(), i -> new ArrayList<>()).add(checkedSize(encode(o)));
                } catch (RuntimeException e) {
                    if (InfrastructureErrors.isTransient(e)) {
                        throw InfrastructureErrors.asTransient("encoding an output of " + where(raw), e);
                    }
                    for (int i : sources) {
                        failures.putIfAbsent(i, new BatchExecutor.Failure(e, 1));
                    }
                }
            }
        }
        spreadOverSharedOutputs(failures, bound);

        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        int outputs = 0;
        int rejected = 0;
        for (RawRecord raw : raws) {
            BatchExecutor.Failure failure = failures.get(raw.index());
            if (failure == null) {
                List<ProducerRecord<byte[], byte[]>> mine = encoded.getOrDefault(raw.index(), List.of());
                out.addAll(mine);
                outputs += mine.size();
                continue;
            }
            rejected++;
            RejectedRecord r = RejectedRecord.of(stage.name(), raw, failure.reason(), clock.instant(), failure.attempts());
            out.add(deadLetter(r));
            out.addAll(hookOutputs(r, Optional.ofNullable(byIndex[raw.index()])));
        }
        return new Prepared(List.copyOf(out), outputs, rejected, result.calls());
    }

    /**
     * Inputs bound by a shared output stand or fall together: were one of them rejected while the output went
     * out for the others, the output would carry the rejected one too, and it would be answered twice.
     */
    private static void spreadOverSharedOutputs(Map<Integer, BatchExecutor.Failure> failures,
                                                Map<Integer, List<Integer>> bound) {
        java.util.ArrayDeque<Integer> todo = new java.util.ArrayDeque<>(failures.keySet());
        while (!todo.isEmpty()) {
            int failed = todo.pop();
            BatchExecutor.Failure why = failures.get(failed);
            for (int other : bound.getOrDefault(failed, List.of())) {
                if (!failures.containsKey(other)) {
                    failures.put(other, new BatchExecutor.Failure(new SharedOutputException(failed, why.reason()),
                            why.attempts()));
                    todo.push(other);
                }
            }
        }
    }

    /** Why an input with nothing wrong of its own was rejected: it shared its output with one that failed. */
    static final class SharedOutputException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SharedOutputException(int index, Throwable cause) {
            super("its output is shared with input " + index + " of the batch, which failed: " + cause.getMessage(),
                    cause);
        }
    }

    private static String where(RawRecord raw) {
        return raw.record().topic() + "-" + raw.record().partition() + "@" + raw.record().offset();
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
            records.add(checkedSize(encode(o)));
        }
        return records;
    }

    private ProducerRecord<byte[], byte[]> checkedSize(ProducerRecord<byte[], byte[]> r) {
        int size = sizeOf(r);
        if (size > maxRecordBytes) {
            throw new RecordTooLargeException("the output for " + r.topic() + " is " + size
                    + " bytes, over the producer's max.request.size of " + maxRecordBytes);
        }
        return r;
    }

    /** The bound the producer itself checks against max.request.size before it sends. */
    private static int sizeOf(ProducerRecord<byte[], byte[]> r) {
        return AbstractRecords.estimateSizeInBytesUpperBound(RecordBatch.CURRENT_MAGIC_VALUE,
                CompressionType.NONE, r.key(), r.value(), r.headers().toArray());
    }

    private static <K2, V2> ProducerRecord<byte[], byte[]> encode(Output<K2, V2> o) {
        String topic = o.topic().name();
        byte[] key = o.key() == null ? null : o.topic().keySerializer().serialize(topic, o.key());
        byte[] value = o.value() == null ? null : o.topic().valueSerializer().serialize(topic, o.value());
        RecordHeaders headers = new RecordHeaders();
        o.headers().forEach((name, v) -> headers.add(name, v.getBytes(StandardCharsets.UTF_8)));
        return new ProducerRecord<>(topic, null, key, value, headers);
    }

    /**
     * The dead letter of a rejected input, within the producer's size limit: a dead letter over it would fail
     * the transaction, and the batch would be replayed into the same failure forever. An input too large to be
     * copied whole goes without its value (the headers say where to find it), and a long message is cut.
     */
    private ProducerRecord<byte[], byte[]> deadLetter(RejectedRecord r) throws TransientBatchException {
        ProducerRecord<byte[], byte[]> full = deadLetter(r, null);
        if (sizeOf(full) <= maxRecordBytes) {
            return full;
        }
        int length = r.value() == null ? 0 : r.value().length;
        ProducerRecord<byte[], byte[]> slim = deadLetter(r.withoutValue(), String.valueOf(length));
        if (sizeOf(slim) > maxRecordBytes) {
            slim = new ProducerRecord<>(slim.topic(), null, (byte[]) null, slim.value(), slim.headers());
        }
        log.warn("Stage {}: the dead letter of {}-{}@{} would be {} bytes, over max.request.size {}; written "
                + "without the input's {} bytes", stage.name(), r.sourceTopic(), r.partition(), r.offset(),
                sizeOf(full), maxRecordBytes, length);
        return slim;
    }

    private ProducerRecord<byte[], byte[]> deadLetter(RejectedRecord r, String droppedBytes)
            throws TransientBatchException {
        RecordHeaders headers = new RecordHeaders();
        header(headers, "class", r.errorClass());
        header(headers, "message", abbreviate(r.errorMessage()));
        header(headers, "stage", r.stage());
        header(headers, "source.topic", r.sourceTopic());
        header(headers, "source.partition", String.valueOf(r.partition()));
        header(headers, "source.offset", String.valueOf(r.offset()));
        header(headers, "attempt", String.valueOf(r.attempt()));
        header(headers, "time", r.time().toString());
        header(headers, "value.dropped.bytes", droppedBytes);
        byte[] value;
        try {
            value = stage.deadLetterEncoder().encode(stage.deadLetterTopic(), r);
        } catch (RuntimeException e) {
            if (InfrastructureErrors.isTransient(e)) {
                throw InfrastructureErrors.asTransient("writing the dead letter of " + r.sourceTopic() + "-"
                        + r.partition() + "@" + r.offset(), e);
            }
            throw e;
        }
        return new ProducerRecord<>(stage.deadLetterTopic(), null, r.key(), value, headers);
    }

    private static String abbreviate(String message) {
        return message == null || message.length() <= MAX_MESSAGE_CHARS ? message
                : message.substring(0, MAX_MESSAGE_CHARS) + "... (" + message.length() + " characters)";
    }

    private List<ProducerRecord<byte[], byte[]>> hookOutputs(RejectedRecord r, Optional<InputRecord<K, V>> decoded)
            throws TransientBatchException {
        try {
            return encodeAll(stage.rejectionHook().onRejected(r, decoded));
        } catch (RuntimeException e) {
            if (InfrastructureErrors.isTransient(e)) {
                // Without its outputs (the user's answer) the rejection would be silent: retry the batch instead.
                throw InfrastructureErrors.asTransient("the rejection outputs of " + r.sourceTopic() + "-"
                        + r.partition() + "@" + r.offset(), e);
            }
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
