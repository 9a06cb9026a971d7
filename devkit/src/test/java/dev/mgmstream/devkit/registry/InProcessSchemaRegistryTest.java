package dev.mgmstream.devkit.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.schemas.registry.CompatibilityLevel;
import dev.mgmstream.schemas.registry.RegisteredSchema;
import dev.mgmstream.schemas.registry.RegistryErrorCodes;
import dev.mgmstream.schemas.registry.SchemaRegistryClient;
import dev.mgmstream.schemas.registry.SchemaRegistryException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The registry's rules, through the same HTTP client the stages use, on the in-process broker. */
class InProcessSchemaRegistryTest {
    private static final Schema V1 = SchemaBuilder.record("Order").namespace("test").fields()
            .requiredString("id").endRecord();
    private static final Schema V2_DEFAULTED = SchemaBuilder.record("Order").namespace("test").fields()
            .requiredString("id").name("note").type().stringType().stringDefault("").endRecord();
    private static final Schema V2_REQUIRED = SchemaBuilder.record("Order").namespace("test").fields()
            .requiredString("id").requiredInt("quantity").endRecord();

    private RegistryFixture fixture;
    private SchemaRegistryClient client;

    @BeforeEach
    void start() {
        fixture = new RegistryFixture();
        client = fixture.client;
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    @Test
    void assignsIdsFromOneAndReturnsTheSameIdForTheSameSchema() {
        assertThat(client.register("orders-value", V1)).isEqualTo(1);
        assertThat(client.register("orders-value", V1)).isEqualTo(1);
        assertThat(client.register("orders-value", V2_DEFAULTED)).isEqualTo(2);
        // A schema is one global id wherever it is registered.
        assertThat(client.register("other-value", V1)).isEqualTo(1);

        RegisteredSchema latest = client.latest("orders-value");
        assertThat(latest.version()).isEqualTo(2);
        assertThat(latest.id()).isEqualTo(2);
        assertThat(latest.schema()).isEqualTo(V2_DEFAULTED);
        assertThat(client.idOf("orders-value", V1)).isEqualTo(1);
        assertThat(client.schemaById(1)).isEqualTo(V1);
        assertThat(client.subjects()).containsExactly("orders-value", "other-value");
    }

    @Test
    void refusesAnIncompatibleSchemaWith409UnderBackward() {
        client.register("orders-value", V1);

        assertThat(client.isCompatible("orders-value", V2_REQUIRED)).isFalse();
        assertThat(client.isCompatible("orders-value", V2_DEFAULTED)).isTrue();
        assertThatThrownBy(() -> client.register("orders-value", V2_REQUIRED))
                .isInstanceOfSatisfying(SchemaRegistryException.class, e -> {
                    assertThat(e.httpStatus()).isEqualTo(409);
                    assertThat(e.errorCode()).isEqualTo(RegistryErrorCodes.INCOMPATIBLE_SCHEMA);
                })
                .hasMessageContaining("orders-value")
                .hasMessageContaining("quantity");
        assertThat(client.latest("orders-value").version()).isEqualTo(1);
    }

    @Test
    void aSubjectLevelOfNoneAcceptsWhatBackwardRefuses() {
        client.register("orders-value", V1);
        client.updateCompatibility("orders-value", CompatibilityLevel.NONE);

        assertThat(client.register("orders-value", V2_REQUIRED)).isEqualTo(2);

        client.register("strict-value", V1);
        assertThatThrownBy(() -> client.register("strict-value", V2_REQUIRED))
                .isInstanceOfSatisfying(SchemaRegistryException.class, e -> assertThat(e.httpStatus()).isEqualTo(409));
    }

    @Test
    void reportsAnUnknownIdByNumber() {
        assertThatThrownBy(() -> client.schemaById(4242))
                .isInstanceOfSatisfying(SchemaRegistryException.class, e -> {
                    assertThat(e.httpStatus()).isEqualTo(404);
                    assertThat(e.errorCode()).isEqualTo(RegistryErrorCodes.SCHEMA_NOT_FOUND);
                })
                .hasMessageContaining("4242");
    }

    @Test
    void reportsUnknownSubjectsAndUnregisteredSchemas() {
        assertThatThrownBy(() -> client.latest("nobody-value"))
                .isInstanceOfSatisfying(SchemaRegistryException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(RegistryErrorCodes.SUBJECT_NOT_FOUND))
                .hasMessageContaining("nobody-value");
        client.register("orders-value", V1);
        assertThatThrownBy(() -> client.idOf("orders-value", V2_DEFAULTED))
                .isInstanceOfSatisfying(SchemaRegistryException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(RegistryErrorCodes.SCHEMA_NOT_FOUND))
                .hasMessageContaining("orders-value");
        assertThat(client.isCompatible("nobody-value", V2_REQUIRED)).isTrue();
    }

    @Test
    void subjectsMayHoldCharactersThatNeedEncoding() {
        int id = client.register("team/a orders+x-value", V1);

        assertThat(client.latest("team/a orders+x-value").id()).isEqualTo(id);
        assertThat(client.subjects()).contains("team/a orders+x-value");
    }
}
