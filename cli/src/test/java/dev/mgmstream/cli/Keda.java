package dev.mgmstream.cli;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBehavior;

/**
 * KEDA's keda.sh/v1alpha1 kinds as typed records, since Maven Central has no model of them: the fields
 * of KEDA's CRDs that deploy/ uses and their close neighbours. Read with unknown fields refused
 * ({@link TypedManifests}), a field that is not here fails the test; if KEDA has it, add it here.
 * The HPA behaviour is fabric8's autoscaling/v2 type, which KEDA passes on as it is.
 */
final class Keda {

    private Keda() {
    }

    static final String API_VERSION = "keda.sh/v1alpha1";

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ScaledObject(String apiVersion, String kind, ObjectMeta metadata, ScaledObjectSpec spec) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ScaledObjectSpec(ScaleTarget scaleTargetRef, Integer pollingInterval, Integer initialCooldownPeriod,
            Integer cooldownPeriod, Integer idleReplicaCount, Integer minReplicaCount, Integer maxReplicaCount,
            Advanced advanced, Fallback fallback, List<Trigger> triggers) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ScaleTarget(String apiVersion, String kind, String name, String envSourceContainerName) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Advanced(HpaConfig horizontalPodAutoscalerConfig, Boolean restoreToOriginalReplicaCount,
            ScalingModifiers scalingModifiers) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record HpaConfig(String name, HorizontalPodAutoscalerBehavior behavior) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ScalingModifiers(String formula, String target, String activationTarget, String metricType) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Fallback(Integer failureThreshold, Integer replicas, String behavior) {
    }

    /** A trigger; its metadata is free-form in the CRD, so each scaler's keys are typed apart ({@link KafkaScaler}). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Trigger(String type, String name, Map<String, String> metadata, AuthenticationRef authenticationRef,
            String metricType, Boolean useCachedMetrics) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record AuthenticationRef(String name, String kind) {
    }

    /** The Kafka scaler's metadata keys (KEDA's kafka scaler documentation). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record KafkaScaler(String bootstrapServers, String bootstrapServersFromEnv, String consumerGroup,
            String consumerGroupFromEnv, String topic, String topicFromEnv, String lagThreshold,
            String activationLagThreshold, String offsetResetPolicy, String allowIdleConsumers,
            String scaleToZeroOnInvalidOffset, String excludePersistentLag, String limitToPartitionsWithLag,
            String ensureEvenDistributionOfPartitions, String partitionLimitation, String version, String sasl,
            String tls, String unsafeSsl) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record TriggerAuthentication(String apiVersion, String kind, ObjectMeta metadata, TriggerAuthenticationSpec spec) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record TriggerAuthenticationSpec(List<TargetRef> secretTargetRef, List<TargetRef> configMapTargetRef,
            List<EnvTarget> env) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record TargetRef(String parameter, String name, String key) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record EnvTarget(String parameter, String name, String containerName) {
    }
}
