package dev.mgmstream.pipeline.stage;

import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;

/**
 * Sorts client failures as apache/kafka's {@code ExactlyOnceMessageProcessor} does: those after which
 * this instance must not write again (another instance took over its transactional.id or group
 * instance id, or it lacks rights) shut the stage down; anything else aborts and retries.
 */
final class KafkaErrors {

    private KafkaErrors() {
    }

    static boolean isUnrecoverable(Throwable e) {
        return Causes.any(e, t -> t instanceof ProducerFencedException
                || t instanceof InvalidProducerEpochException
                || t instanceof FencedInstanceIdException
                || t instanceof OutOfOrderSequenceException
                || t instanceof AuthorizationException
                || t instanceof UnsupportedVersionException);
    }
}
