package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.Test;

class CompatibilityRulesTest {
    private static final Schema V1 = SchemaBuilder.record("Order").fields().requiredString("id").endRecord();
    private static final Schema WITH_DEFAULTED_FIELD = SchemaBuilder.record("Order").fields()
            .requiredString("id").name("note").type().stringType().stringDefault("").endRecord();
    private static final Schema WITH_REQUIRED_FIELD = SchemaBuilder.record("Order").fields()
            .requiredString("id").requiredInt("quantity").endRecord();
    private static final Schema WITHOUT_ID = SchemaBuilder.record("Order").fields()
            .name("note").type().stringType().stringDefault("").endRecord();

    @Test
    void backwardRefusesANewFieldWithoutDefaultAndNamesIt() {
        List<String> problems = CompatibilityRules.problems(WITH_REQUIRED_FIELD, List.of(V1), CompatibilityLevel.BACKWARD);

        assertThat(problems).singleElement().asString()
                .startsWith("BACKWARD READER_FIELD_MISSING_DEFAULT_VALUE").contains("quantity");
        assertThat(CompatibilityRules.problems(WITH_DEFAULTED_FIELD, List.of(V1), CompatibilityLevel.BACKWARD)).isEmpty();
    }

    @Test
    void forwardAllowsWhatOldReadersCanSkip() {
        assertThat(CompatibilityRules.problems(WITH_REQUIRED_FIELD, List.of(V1), CompatibilityLevel.FORWARD)).isEmpty();
        assertThat(CompatibilityRules.problems(WITHOUT_ID, List.of(V1), CompatibilityLevel.FORWARD))
                .singleElement().asString().startsWith("FORWARD").contains("id");
    }

    @Test
    void fullChecksBothWays() {
        assertThat(CompatibilityRules.problems(WITH_REQUIRED_FIELD, List.of(V1), CompatibilityLevel.FULL)).isNotEmpty();
        assertThat(CompatibilityRules.problems(WITH_DEFAULTED_FIELD, List.of(V1), CompatibilityLevel.FULL)).isEmpty();
    }

    @Test
    void onlyTransitiveLevelsLookPastTheLatestVersion() {
        // v1 {a: int} -> v2 {b} drops a -> v3 brings a back as a string: fine after v2, not after v1.
        Schema v1 = SchemaBuilder.record("R").fields().requiredInt("a").endRecord();
        Schema v2 = SchemaBuilder.record("R").fields().name("b").type().stringType().stringDefault("").endRecord();
        Schema v3 = SchemaBuilder.record("R").fields()
                .name("a").type().stringType().stringDefault("")
                .name("b").type().stringType().stringDefault("").endRecord();

        assertThat(CompatibilityRules.problems(v3, List.of(v1, v2), CompatibilityLevel.BACKWARD)).isEmpty();
        assertThat(CompatibilityRules.problems(v3, List.of(v1, v2), CompatibilityLevel.BACKWARD_TRANSITIVE))
                .singleElement().asString().contains("TYPE_MISMATCH").contains("/fields/0");
    }

    @Test
    void noneAndAnEmptyHistoryAllowAnything() {
        assertThat(CompatibilityRules.problems(WITHOUT_ID, List.of(V1), CompatibilityLevel.NONE)).isEmpty();
        assertThat(CompatibilityRules.problems(WITHOUT_ID, List.of(), CompatibilityLevel.FULL_TRANSITIVE)).isEmpty();
    }
}
