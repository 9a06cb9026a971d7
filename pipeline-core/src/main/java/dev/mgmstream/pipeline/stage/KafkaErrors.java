package dev.mgmstream.pipeline.stage;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
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

    private static final Pattern USERNAME = Pattern.compile("username\\s*=\\s*\"([^\"]*)\"");

    /**
     * What an operator needs to read when Kafka refuses the stage: which user, which resource, and where the
     * rights come from. Empty when the failure is not an authorization failure.
     */
    static Optional<String> authorizationHelp(Throwable e, String stage, StageSettings settings) {
        Throwable t = e;
        while (t != null && !(t instanceof AuthorizationException)) {
            t = t.getCause();
        }
        if (t == null) {
            return Optional.empty();
        }
        String jaas = settings.config().getOrDefault("kafka.sasl.jaas.config", "");
        Matcher m = USERNAME.matcher(jaas);
        String user = m.find() ? "user '" + m.group(1) + "'" : "the configured user (kafka.sasl.* / kafka.ssl.*)";
        String what;
        if (t instanceof TopicAuthorizationException te) {
            what = "topics " + te.unauthorizedTopics();
        } else if (t instanceof GroupAuthorizationException ge) {
            what = "consumer group '" + (ge.groupId() != null ? ge.groupId() : settings.groupId()) + "'";
        } else if (t instanceof TransactionalIdAuthorizationException) {
            what = "transactional id '" + settings.transactionalId() + "'";
        } else {
            what = "a resource";
        }
        return Optional.of("Kafka refused " + user + " access to " + what + " (" + t.getMessage() + "). Stage '"
                + stage + "' is not authorized: it needs its own KafkaUser's ACLs (deploy/base/kafka/users.yaml: "
                + "its input and output topics, group '" + settings.groupId() + "', transactional ids starting '"
                + settings.groupId() + "-'); check that it runs with its own credentials.");
    }
}
