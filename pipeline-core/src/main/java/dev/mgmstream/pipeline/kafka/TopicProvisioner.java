package dev.mgmstream.pipeline.kafka;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import dev.mgmstream.schemas.topics.TopicSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the catalogue's topics if they are missing and checks those that exist, so a stage never
 * starts against a topic that would lose or refuse its data.
 *
 * <p>Running it again changes nothing. An existing topic is refused when it has fewer partitions than
 * specified (keys would map differently and parallelism would be lower), a cleanup policy that would
 * delete a cache's latest values or compact away a log's records, or a {@code max.message.bytes}
 * smaller than specified (large payloads would be rejected at produce time). Other differences,
 * such as retention, are only logged: they change cost, not correctness.
 */
public final class TopicProvisioner {

    private static final Logger log = LoggerFactory.getLogger(TopicProvisioner.class);

    private static final java.time.Duration LEADER_WAIT = java.time.Duration.ofSeconds(30);

    private final Admin admin;

    public TopicProvisioner(Admin admin) {
        this.admin = admin;
    }

    /** @return the names of the topics this call created */
    public Set<String> ensure(Collection<TopicSpec> specs) {
        try {
            Set<String> existing = admin.listTopics().names().get();
            List<TopicSpec> missing = specs.stream().filter(s -> !existing.contains(s.name())).toList();
            Set<String> created = create(missing);
            // existing topics too: on a broker just restarted with its data, their leaders come back later
            awaitLeaders(specs.stream().map(TopicSpec::name).collect(Collectors.toSet()));
            List<TopicSpec> toCheck = specs.stream().filter(s -> !created.contains(s.name())).toList();
            verify(toCheck);
            return created;
        } catch (ExecutionException e) {
            throw new IllegalStateException("Topic provisioning failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while provisioning topics", e);
        }
    }

    private Set<String> create(List<TopicSpec> missing) throws InterruptedException, ExecutionException {
        if (missing.isEmpty()) {
            return Set.of();
        }
        List<NewTopic> topics = missing.stream()
                .map(s -> new NewTopic(s.name(), Optional.of(s.partitions()), Optional.of(s.replicationFactor()))
                        .configs(s.configs()))
                .toList();
        CreateTopicsResult result = admin.createTopics(topics);
        Set<String> created = new HashSet<>();
        for (Map.Entry<String, KafkaFuture<Void>> e : result.values().entrySet()) {
            try {
                e.getValue().get();
                created.add(e.getKey());
                log.info("Created topic {}", e.getKey());
            } catch (ExecutionException ex) {
                // Another instance created it between our listing and our request: check it like any other.
                if (!(ex.getCause() instanceof TopicExistsException)) {
                    throw ex;
                }
            }
        }
        return created;
    }

    /**
     * Returns once every partition of the topics has a leader that serves it: a leader in the
     * metadata, and a ListOffsets answered by that leader (a broker names itself leader in the metadata
     * a moment before its replica manager takes the partition on). Producing before that gets
     * NOT_LEADER_OR_FOLLOWER, and an idempotent producer whose first batch is refused that way can then
     * retry forever with OUT_OF_ORDER_SEQUENCE_NUMBER (seen in the tests, with the metadata check alone).
     */
    private void awaitLeaders(Set<String> topics) throws InterruptedException, ExecutionException {
        long deadline = System.nanoTime() + LEADER_WAIT.toNanos();
        while (!topics.isEmpty()) {
            Map<String, TopicDescription> d;
            try {
                d = admin.describeTopics(topics).allTopicNames().get();
            } catch (ExecutionException e) {
                // Just created: the broker that answered may not know the topic yet (seen in the tests).
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
                continue;
            }
            boolean ready = d.values().stream().allMatch(t -> t.partitions().stream().allMatch(p -> p.leader() != null
                    && !p.leader().isEmpty()));
            if (ready && served(d, deadline)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                log.warn("Topics {}: some partitions still have no leader after {}; going on", topics, LEADER_WAIT);
                return;
            }
            Thread.sleep(50);
        }
    }

    private boolean served(Map<String, TopicDescription> topics, long deadline) throws InterruptedException {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        topics.values().forEach(t -> t.partitions().forEach(p ->
                latest.put(new TopicPartition(t.name(), p.partition()), OffsetSpec.latest())));
        long left = Math.max(1, deadline - System.nanoTime());
        try {
            admin.listOffsets(latest).all().get(left, TimeUnit.NANOSECONDS);
            return true;
        } catch (ExecutionException | TimeoutException e) {
            return false;
        }
    }

    /**
     * Every way the existing topics differ from their specs, harmless ones (retention, a larger limit, more
     * partitions) included: what {@code mgm topics apply} reports. Missing topics are not listed here.
     */
    public List<String> differences(Collection<TopicSpec> specs) {
        try {
            Set<String> existing = admin.listTopics().names().get();
            List<TopicSpec> present = specs.stream().filter(s -> existing.contains(s.name())).toList();
            if (present.isEmpty()) {
                return List.of();
            }
            Set<String> names = present.stream().map(TopicSpec::name).collect(Collectors.toSet());
            Map<String, TopicDescription> descriptions = admin.describeTopics(names).allTopicNames().get();
            Map<ConfigResource, Config> configs = admin.describeConfigs(names.stream()
                    .map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n)).toList()).all().get();
            List<String> differences = new ArrayList<>();
            for (TopicSpec spec : present) {
                int partitions = descriptions.get(spec.name()).partitions().size();
                if (partitions != spec.partitions()) {
                    differences.add(spec.name() + ": partitions " + partitions + ", the catalogue says "
                            + spec.partitions());
                }
                Config actual = configs.get(new ConfigResource(ConfigResource.Type.TOPIC, spec.name()));
                spec.configs().forEach((key, wanted) -> {
                    String has = value(actual, key);
                    if (!wanted.equals(has)) {
                        differences.add(spec.name() + ": " + key + " " + has + ", the catalogue says " + wanted);
                    }
                });
            }
            return differences;
        } catch (ExecutionException e) {
            throw new IllegalStateException("Describing the topics failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while describing topics", e);
        }
    }

    private void verify(List<TopicSpec> specs) throws InterruptedException, ExecutionException {
        if (specs.isEmpty()) {
            return;
        }
        Set<String> names = specs.stream().map(TopicSpec::name).collect(Collectors.toSet());
        Map<String, TopicDescription> descriptions = admin.describeTopics(names).allTopicNames().get();
        List<ConfigResource> resources = names.stream()
                .map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n)).toList();
        Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get();
        List<String> problems = new ArrayList<>();
        for (TopicSpec spec : specs) {
            Config config = configs.get(new ConfigResource(ConfigResource.Type.TOPIC, spec.name()));
            problems.addAll(problems(spec, descriptions.get(spec.name()).partitions().size(), config));
        }
        if (!problems.isEmpty()) {
            throw new TopicMisconfiguredException(problems);
        }
    }

    static List<String> problems(TopicSpec spec, int partitions, Config actual) {
        List<String> problems = new ArrayList<>();
        String name = spec.name();
        if (partitions < spec.partitions()) {
            problems.add(name + ": has " + partitions + " partitions, needs at least " + spec.partitions());
        }
        String wantedPolicy = spec.configs().get(TopicConfig.CLEANUP_POLICY_CONFIG);
        Set<String> actualPolicy = policies(value(actual, TopicConfig.CLEANUP_POLICY_CONFIG));
        boolean wantsCompaction = wantedPolicy != null && policies(wantedPolicy).contains("compact");
        if (wantsCompaction && !actualPolicy.contains("compact")) {
            problems.add(name + ": is a cache and needs cleanup.policy=compact, has " + actualPolicy
                    + " (its latest values would be deleted by age)");
        } else if (!wantsCompaction && actualPolicy.contains("compact")) {
            problems.add(name + ": needs cleanup.policy=delete, has " + actualPolicy
                    + " (compaction would drop records that share a key)");
        }
        String wantedMax = spec.configs().get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
        String actualMax = value(actual, TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
        if (wantedMax != null && actualMax != null && Long.parseLong(actualMax) < Long.parseLong(wantedMax)) {
            problems.add(name + ": max.message.bytes is " + actualMax + ", needs at least " + wantedMax);
        }
        String wantedRetention = spec.configs().get(TopicConfig.RETENTION_MS_CONFIG);
        String actualRetention = value(actual, TopicConfig.RETENTION_MS_CONFIG);
        if (wantedRetention != null && !wantedRetention.equals(actualRetention)) {
            log.warn("Topic {}: retention.ms is {}, the catalogue says {}; leaving it", name, actualRetention,
                    wantedRetention);
        }
        return problems;
    }

    private static String value(Config config, String key) {
        ConfigEntry entry = config == null ? null : config.get(key);
        return entry == null ? null : entry.value();
    }

    private static Set<String> policies(String value) {
        if (value == null) {
            return Set.of("delete");
        }
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toSet());
    }
}
