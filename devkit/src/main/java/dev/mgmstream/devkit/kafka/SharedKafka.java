package dev.mgmstream.devkit.kafka;

/**
 * One in-process broker for the whole test JVM: starting a node costs a second or two, so test
 * classes share it and isolate themselves by topic and group names instead.
 */
public final class SharedKafka {

    private static EmbeddedKafka instance;

    private SharedKafka() {
    }

    public static synchronized String bootstrapServers() {
        if (instance == null) {
            EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Options.defaults());
            Runtime.getRuntime().addShutdownHook(new Thread(kafka::close, "shared-kafka-stop"));
            instance = kafka;
        }
        return instance.bootstrapServers();
    }
}
