package dev.mgmstream.cli;

import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PendingRegistryClientTest {

    @Test
    void aCallBeforeTheRegistryIsUpSaysSoAndClosingIsHarmless() {
        PendingRegistryClient client = new PendingRegistryClient();
        assertThatThrownBy(() -> client.register("s", Schema.create(Schema.Type.STRING)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("has not started yet");
        assertThatThrownBy(() -> client.schemaById(1)).isInstanceOf(IllegalStateException.class);
        client.close();
    }
}
