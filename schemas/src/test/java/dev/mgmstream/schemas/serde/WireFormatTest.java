package dev.mgmstream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mgmstream.schemas.avro.Rejection;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class WireFormatTest {

    /** A Rejection whose Avro binary encoding is worked out by hand below. */
    static Rejection knownRejection() {
        return Rejection.newBuilder()
                .setSourceTopic("t")
                .setPartition(2)
                .setOffset(300)
                .setKey(ByteBuffer.wrap(new byte[] {1, 2}))
                .setValue(null)
                .setErrorClass("E")
                .setErrorMessage(null)
                .setStage("sink")
                .setTime(Instant.ofEpochMilli(1))
                .setAttempt(1)
                .setTaskId("a")
                .build();
    }

    /** Avro binary of {@link #knownRejection()}: zig-zag varints, length-prefixed strings, union branch indexes. */
    static final byte[] KNOWN_REJECTION_AVRO = {
        0x02, 't',              // source_topic: length 1, "t"
        0x04,                   // partition 2
        (byte) 0xD8, 0x04,      // offset 300 -> zig-zag 600 -> varint D8 04
        0x02, 0x04, 0x01, 0x02, // key: union branch 1 (bytes), length 2, {1, 2}
        0x00,                   // value: union branch 0 (null)
        0x02, 'E',              // error_class "E"
        0x00,                   // error_message: null
        0x08, 's', 'i', 'n', 'k', // stage "sink"
        0x02,                   // time: 1 ms
        0x02,                   // attempt 1
        0x02, 0x02, 'a'         // task_id: union branch 1 (string), length 1, "a"
    };

    @Test
    void avroBodyOfTheKnownRecordIsAsWorkedOutByHand() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        new SpecificDatumWriter<>(Rejection.class).write(knownRejection(), encoder);

        assertThat(out.toByteArray()).containsExactly(KNOWN_REJECTION_AVRO);
    }

    @Test
    void frameIsMagicZeroThenBigEndianIdThenBody() {
        byte[] framed = WireFormat.frame(0x01020304, new byte[] {9, 8});

        assertThat(framed).containsExactly(0, 1, 2, 3, 4, 9, 8);
        assertThat(WireFormat.schemaId(framed, "t")).isEqualTo(0x01020304);
    }

    @Test
    void refusesBytesThatAreNotFramedNamingTheTopic() {
        assertThatThrownBy(() -> WireFormat.schemaId(new byte[] {0, 0, 1}, "mgm.answers"))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("mgm.answers").hasMessageContaining("3 bytes");
        assertThatThrownBy(() -> WireFormat.schemaId(new byte[] {'{', '"', 'a', '"', ':'}, "mgm.answers"))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("mgm.answers").hasMessageContaining("0x7b");
    }
}
