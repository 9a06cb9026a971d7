package dev.mgmstream.schemas.serde;

import java.nio.ByteBuffer;
import org.apache.kafka.common.errors.SerializationException;

/** The Confluent framing around an Avro body: {@code [0][schema id, 4 bytes big-endian][Avro binary]}. */
public final class WireFormat {
    public static final byte MAGIC_BYTE = 0;
    public static final int HEADER_LENGTH = 5;

    private WireFormat() {
    }

    public static byte[] frame(int schemaId, byte[] avroBody) {
        return ByteBuffer.allocate(HEADER_LENGTH + avroBody.length)
                .put(MAGIC_BYTE)
                .putInt(schemaId)
                .put(avroBody)
                .array();
    }

    /** The schema id of a framed record; a SerializationException naming the topic when it is not framed. */
    public static int schemaId(byte[] framed, String topic) {
        if (framed.length < HEADER_LENGTH) {
            throw new SerializationException("Record from topic '" + topic + "' has " + framed.length
                    + " bytes, fewer than the 5-byte Confluent wire-format header: it was not written by an Avro serializer");
        }
        if (framed[0] != MAGIC_BYTE) {
            throw new SerializationException(String.format(
                    "Record from topic '%s' starts with byte 0x%02x, not the magic byte 0 of the Confluent wire format",
                    topic, framed[0]));
        }
        return ByteBuffer.wrap(framed, 1, 4).getInt();
    }
}
