package dev.mgmstream.lake;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.adobe.testing.s3mock.junit5.S3MockExtension;
import org.apache.iceberg.data.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lake with Iceberg's JDBC catalog over an SQLite file: on a local folder, and with its data on an
 * S3-compatible store (Adobe's S3Mock, in-process) through S3FileIO, the object-storage lake of a cluster.
 */
class JdbcCatalogLakeTest {

    private static final String TOPIC = "mgm.answers";

    @RegisterExtension
    static final S3MockExtension S3 = S3MockExtension.builder().silent().withSecureConnection(false)
            .withInitialBuckets("lake").build();

    @TempDir
    Path dir;

    @Test
    void aLocalJdbcLakeKeepsItsCatalogBesideItsTablesAndItsOffsetsAcrossOpenings() {
        LakeSettings settings = LakeSettings.from(Map.of("lake.catalog.type", "jdbc",
                "lake.warehouse", dir.resolve("lake").toString()));
        assertThat(settings.catalogUri()).isEqualTo("jdbc:sqlite:" + dir.resolve("lake").resolve("catalog.db"));
        try (LakeTable lake = LakeTable.open(settings)) {
            assertThat(new AnswerAppender(lake.table(), TOPIC, "a", 3).append(new AnswerAppender.Batch(
                    LakeFixtures.rows(TOPIC, 0, 0, 20, 1L), Map.of(0, AnswerAppender.NONE), Map.of(0, 20L))).committed())
                    .isTrue();
        }
        assertThat(Files.exists(dir.resolve("lake").resolve("catalog.db"))).isTrue();
        try (LakeTable again = LakeTable.open(settings)) {
            assertThat(LakeFixtures.readAll(again.table())).hasSize(20);
            assertThat(new AnswerAppender(again.table(), TOPIC, "b", 3).tableOffsets())
                    .containsExactlyEntriesOf(Map.of(0, 20L));
        }
    }

    @Test
    void aLakeOnObjectStorageWritesItsDataFilesToTheBucket() {
        LakeSettings settings = LakeSettings.from(Map.of(
                "lake.catalog.type", "jdbc",
                "lake.catalog.uri", "jdbc:sqlite:" + dir.resolve("catalog.db"),
                "lake.warehouse", "s3://lake/warehouse",
                "lake.catalog.property.io-impl", "org.apache.iceberg.aws.s3.S3FileIO",
                "lake.catalog.property.s3.endpoint", "http://localhost:" + S3.getHttpPort(),
                "lake.catalog.property.s3.path-style-access", "true",
                "lake.catalog.property.s3.access-key-id", "any",
                "lake.catalog.property.s3.secret-access-key", "any",
                "lake.catalog.property.client.region", "us-east-1"));
        try (LakeTable lake = LakeTable.open(settings)) {
            AnswerAppender appender = new AnswerAppender(lake.table(), TOPIC, "w", 3);
            assertThat(appender.append(new AnswerAppender.Batch(LakeFixtures.rows(TOPIC, 0, 0, 30, 1L),
                    Map.of(0, AnswerAppender.NONE), Map.of(0, 30L))).committed()).isTrue();
            assertThat(lake.table().location()).startsWith("s3://lake/warehouse");
            List<Record> rows = LakeFixtures.readAll(lake.table());
            assertThat(rows).hasSize(30);
            assertThat(appender.tableOffsets()).containsExactlyEntriesOf(Map.of(0, 30L));
        }
    }
}
