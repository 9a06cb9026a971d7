package dev.mgmstream.lake;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import dev.mgmstream.schemas.avro.Answer;
import dev.mgmstream.schemas.avro.AnswerStatus;
import dev.mgmstream.schemas.avro.FinishReason;
import dev.mgmstream.schemas.avro.TaskKind;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.Table;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;

/** Answers to write and the table read back through Iceberg's own generic reader. */
final class LakeFixtures {

    private LakeFixtures() {
    }

    static Answer answer(int i) {
        boolean ok = i % 10 != 7;
        return Answer.newBuilder()
                .setTaskId("task-" + i)
                .setImageId("img-" + (i % 13))
                .setStatus(ok ? AnswerStatus.OK : AnswerStatus.REJECTED)
                .setText(ok ? "answer " + i : null)
                .setFinishReason(ok ? FinishReason.STOP : null)
                .setPromptTokens(ok ? 40 : 0)
                .setCompletionTokens(ok ? i % 9 + 1 : 0)
                .setModelId("mgm-tiny")
                .setLatencies(Map.of("encoders", 5L, "reasoning", 9L, "total", 20L + i % 5))
                .setReason(ok ? null : "image could not be decoded")
                .setKind(i % 3 == 0 ? TaskKind.CAPTION : TaskKind.VQA)
                .setPrompt("question " + i)
                .setAttributes(Map.of("batch", "b" + (i % 4), "n", Integer.toString(i)))
                .setImage("file:/images/" + i + ".png")
                .build();
    }

    /** Rows for answers {@code from}..{@code to}-1, read from {@code topic}-{@code partition} at the same offsets. */
    static List<Record> rows(String topic, int partition, int from, int to, long timestamp) {
        return IntStream.range(from, to)
                .mapToObj(i -> AnswerTable.row(answer(i), topic, partition, i, timestamp))
                .toList();
    }

    /** Parquet files under the table's folder that no snapshot names: rows a raw Parquet reader sees besides the table's. */
    static List<Path> parquetFilesOutside(Table table) {
        table.refresh();
        Set<Path> inTable = new HashSet<>();
        for (Snapshot snapshot : table.snapshots()) {
            snapshot.addedDataFiles(table.io()).forEach(f -> inTable.add(local(f.location())));
        }
        try (Stream<Path> files = Files.walk(local(table.location()))) {
            return files.filter(f -> f.toString().endsWith(".parquet")).filter(f -> !inTable.contains(f)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path local(String location) {
        return Path.of(new org.apache.hadoop.fs.Path(location).toUri().getPath());
    }

    static List<Record> readAll(Table table) {
        table.refresh();
        List<Record> rows = new ArrayList<>();
        try (CloseableIterable<Record> it = IcebergGenerics.read(table).build()) {
            it.forEach(r -> rows.add(r.copy()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return rows;
    }
}
