package dev.mgmstream.pipeline.stage;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpTimeoutException;

import dev.mgmstream.schemas.registry.SchemaRegistryException;
import org.apache.kafka.common.errors.RetriableException;

/**
 * Tells trouble with the infrastructure (a registry or store that does not answer, a broker that is
 * briefly away) from trouble with an input. The first says nothing about the input: the batch is
 * retried after a backoff, never rejected, so a good task is not dead-lettered because a service was
 * down for a minute.
 */
public final class InfrastructureErrors {

    private InfrastructureErrors() {
    }

    /** Whether {@code e}, or anything that caused it, is a failure worth retrying as it is. */
    public static boolean isTransient(Throwable e) {
        return Causes.any(e, t -> t instanceof TransientBatchException
                || t instanceof RetriableException
                || t instanceof ConnectException
                || t instanceof NoRouteToHostException
                || t instanceof UnknownHostException
                || t instanceof SocketTimeoutException
                || t instanceof HttpTimeoutException
                || t instanceof SchemaRegistryException r && r.retriable());
    }

    /** {@code e} as the exception that makes the runtime retry its batch, keeping what it says. */
    static TransientBatchException asTransient(String what, Throwable e) {
        return e instanceof TransientBatchException t ? t : new TransientBatchException(what + ": " + e, e);
    }
}
