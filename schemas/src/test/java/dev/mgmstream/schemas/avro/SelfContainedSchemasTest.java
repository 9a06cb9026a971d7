package dev.mgmstream.schemas.avro;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

import dev.mgmstream.schemas.topics.TopicCatalogue;
import dev.mgmstream.schemas.topics.TopicSpec;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.junit.jupiter.api.Test;

/**
 * {@code schemas/avsc/<Record>.avsc}: the value schema of each topic in one self-contained file (every
 * named type it uses written inline), for producers in other languages, which would otherwise assemble
 * the nine files under src/main/avro. Checked against the generated classes so they cannot drift;
 * {@code -Dmgm.avsc.write=true} writes them afresh.
 */
class SelfContainedSchemasTest {

    private static final Path DIR = Path.of("avsc");

    @Test
    void everyTopicsValueSchemaIsShippedAsOneFileThatParsesAlone() throws Exception {
        Set<Class<?>> types = new LinkedHashSet<>();
        for (TopicSpec spec : TopicCatalogue.defaults().all()) {
            types.add(spec.valueType());
        }
        for (Class<?> type : types) {
            Schema schema = SpecificData.get().getSchema(type);
            Path file = DIR.resolve(schema.getName() + ".avsc");
            String expected = schema.toString(true) + "\n";
            if (Boolean.getBoolean("mgm.avsc.write")) {
                Files.createDirectories(DIR);
                Files.writeString(file, expected);
            }
            assertThat(file).as("schemas/avsc holds " + file.getFileName()
                    + " (write them with: mvn -pl schemas test -Dtest=SelfContainedSchemasTest -Dmgm.avsc.write=true)")
                    .exists();
            assertThat(Files.readString(file)).as(file + " is the generated class's schema").isEqualTo(expected);
            assertThat(new Schema.Parser().parse(file.toFile())).as(file + " parses alone").isEqualTo(schema);
        }
    }
}
