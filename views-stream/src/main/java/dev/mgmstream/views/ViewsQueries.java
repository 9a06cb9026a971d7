package dev.mgmstream.views;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mgmstream.schemas.avro.Caption;
import dev.mgmstream.schemas.avro.ImageReport;
import dev.mgmstream.schemas.avro.TaskState;
import dev.mgmstream.schemas.avro.TaskStatus;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Answers the views' queries: from this instance's stores when it holds the key's partition, otherwise by
 * asking the instance that does (Kafka Streams knows which, from every instance's application.server). A
 * query passed on once is never passed on again: if the key moved meanwhile the answer is 503, try again.
 */
final class ViewsQueries {

    private final KafkaStreams streams;
    private final HostInfo self;
    private final ViewsClient client;

    ViewsQueries(KafkaStreams streams, HostInfo self, ViewsClient client) {
        this.streams = streams;
        this.self = self;
        this.client = client;
    }

    ViewsClient.Reply task(String taskId, boolean forwarded) {
        return keyed(ViewsTopology.TASKS_STORE, taskId, ViewsClient.taskPath(taskId), forwarded, partition -> {
            TaskStatus status = this.<TaskStatus>store(ViewsTopology.TASKS_STORE, partition).get(taskId);
            return status == null ? null : ViewsJson.task(status);
        }, "no task '" + taskId + "' on any topic the views read");
    }

    /** The image's caption and report live on the same partition: both are keyed by image id after one repartition. */
    ViewsClient.Reply image(String imageId, boolean forwarded) {
        return keyed(ViewsTopology.REPORTS_STORE, imageId, ViewsClient.imagePath(imageId), forwarded, partition -> {
            ImageReport report = this.<ImageReport>store(ViewsTopology.REPORTS_STORE, partition).get(imageId);
            Caption caption = this.<Caption>store(ViewsTopology.CAPTIONS_STORE, partition).get(imageId);
            return report == null && caption == null ? null : ViewsJson.image(imageId, report, caption);
        }, "no answer about image '" + imageId + "'");
    }

    /** Totals over every instance (each counts the partitions it is active for), or over this one alone. */
    ViewsClient.Reply stats(boolean localOnly) {
        if (streams.state() != KafkaStreams.State.RUNNING) {
            return unavailable("the views are " + streams.state().name().toLowerCase() + "; try again");
        }
        try {
            if (localOnly) {
                return new ViewsClient.Reply(200, localStats().toString());
            }
            Map<String, Long> states = new TreeMap<>();
            long tasks = 0;
            long images = 0;
            long captions = 0;
            ArrayNode instances = ViewsJson.JSON.createArrayNode();
            List<String> unreachable = new ArrayList<>();
            for (StreamsMetadata m : streams.metadataForAllStreamsClients()) {
                String host = m.hostInfo().host() + ":" + m.hostInfo().port();
                JsonNode one;
                if (m.hostInfo().equals(self)) {
                    one = localStats();
                } else {
                    try {
                        ViewsClient.Reply r = client.get("http://" + host, "/stats?scope=local", selfName());
                        if (r.status() != 200) {
                            unreachable.add(host + " (HTTP " + r.status() + ")");
                            continue;
                        }
                        one = ViewsJson.JSON.readTree(r.body());
                    } catch (IOException e) {
                        unreachable.add(host + " (" + e.getClass().getSimpleName() + ")");
                        continue;
                    }
                }
                tasks += one.path("tasks").asLong();
                images += one.path("images").asLong();
                captions += one.path("captions").asLong();
                one.path("states").fields().forEachRemaining(e -> states.merge(e.getKey(), e.getValue().asLong(), Long::sum));
                instances.add(ViewsJson.JSON.createObjectNode().put("instance", host).put("tasks", one.path("tasks").asLong()));
            }
            ObjectNode out = counts(tasks, states, images, captions);
            out.set("instances", instances);
            if (!unreachable.isEmpty()) {
                // partial totals are still worth showing, said to be partial
                out.set("unreachable", ViewsJson.JSON.valueToTree(unreachable));
            }
            return new ViewsClient.Reply(200, out.toString());
        } catch (InvalidStateStoreException e) {
            return unavailable("the views are rebalancing; try again");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return unavailable("interrupted");
        }
    }

    /**
     * The tasks that changed after {@code from}, oldest change first, from every instance (each walks the
     * partitions it is active for) or from this one alone; see {@link TaskFeed}.
     */
    ViewsClient.Reply feed(TaskFeed.Cursor from, int limit, boolean localOnly) {
        if (streams.state() != KafkaStreams.State.RUNNING) {
            return unavailable("the views are " + streams.state().name().toLowerCase() + "; try again");
        }
        try {
            if (localOnly) {
                return new ViewsClient.Reply(200, TaskFeed.json(localFeed(from, limit), from).toString());
            }
            List<TaskFeed.Page> pages = new ArrayList<>();
            for (StreamsMetadata m : streams.metadataForAllStreamsClients()) {
                if (m.hostInfo().equals(self)) {
                    pages.add(localFeed(from, limit));
                    continue;
                }
                String host = m.hostInfo().host() + ":" + m.hostInfo().port();
                String path = "/feed?scope=local&limit=" + limit + "&since=" + from.since() + "&after="
                        + java.net.URLEncoder.encode(from.after(), java.nio.charset.StandardCharsets.UTF_8);
                ViewsClient.Reply r;
                try {
                    r = client.get("http://" + host, path, selfName());
                } catch (IOException e) {
                    r = new ViewsClient.Reply(502, e.toString());
                }
                if (r.status() != 200) {
                    // A page without another instance's tasks would move the cursor past them for good.
                    return unavailable("views instance " + host + " did not answer (HTTP " + r.status() + "); try again");
                }
                pages.add(TaskFeed.read(ViewsJson.JSON.readTree(r.body())));
            }
            return new ViewsClient.Reply(200, TaskFeed.json(TaskFeed.merge(pages, limit), from).toString());
        } catch (InvalidStateStoreException e) {
            return unavailable("the views are rebalancing; try again");
        } catch (IOException e) {
            return new ViewsClient.Reply(502, ViewsJson.error("another views instance answered badly: " + e).toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return unavailable("interrupted");
        }
    }

    private TaskFeed.Page localFeed(TaskFeed.Cursor from, int limit) {
        try (KeyValueIterator<String, TaskStatus> all = this.<TaskStatus>store(ViewsTopology.TASKS_STORE, null).all()) {
            return TaskFeed.page(new java.util.Iterator<>() {
                @Override
                public boolean hasNext() {
                    return all.hasNext();
                }

                @Override
                public TaskStatus next() {
                    return all.next().value;
                }
            }, from, limit);
        }
    }

    /** Counts over the active partitions of this instance: a walk over its stores, which a view of this size affords. */
    private ObjectNode localStats() {
        Map<String, Long> states = new TreeMap<>();
        long tasks = 0;
        try (KeyValueIterator<String, TaskStatus> all = this.<TaskStatus>store(ViewsTopology.TASKS_STORE, null).all()) {
            while (all.hasNext()) {
                TaskState state = all.next().value.getState();
                states.merge(state.name().toLowerCase(), 1L, Long::sum);
                tasks++;
            }
        }
        return counts(tasks, states, count(ViewsTopology.REPORTS_STORE), count(ViewsTopology.CAPTIONS_STORE));
    }

    private static ObjectNode counts(long tasks, Map<String, Long> states, long images, long captions) {
        ObjectNode out = ViewsJson.JSON.createObjectNode();
        out.put("tasks", tasks);
        out.set("states", ViewsJson.JSON.valueToTree(states));
        out.put("images", images);
        out.put("captions", captions);
        return out;
    }

    private long count(String storeName) {
        long n = 0;
        try (KeyValueIterator<String, Object> all = this.<Object>store(storeName, null).all()) {
            while (all.hasNext()) {
                all.next();
                n++;
            }
        }
        return n;
    }

    private ViewsClient.Reply keyed(String storeName, String key, String path, boolean forwarded,
                                    Function<Integer, JsonNode> local, String notFound) {
        KeyQueryMetadata m;
        try {
            m = streams.queryMetadataForKey(storeName, key, Serdes.String().serializer());
        } catch (IllegalStateException | InvalidStateStoreException notRunning) {
            // not started yet, or stopping: Kafka Streams knows no owner
            return unavailable("the views are " + streams.state().name().toLowerCase() + "; try again");
        }
        if (m == null || KeyQueryMetadata.NOT_AVAILABLE.equals(m) || m.activeHost() == null) {
            return unavailable("the views are starting or rebalancing; try again");
        }
        if (m.activeHost().equals(self)) {
            try {
                JsonNode found = local.apply(m.partition());
                return found == null ? new ViewsClient.Reply(404, ViewsJson.error(notFound).toString())
                        : new ViewsClient.Reply(200, found.toString());
            } catch (InvalidStateStoreException e) {
                return unavailable("the store is moving or restoring; try again");
            }
        }
        if (forwarded) {
            return unavailable("this instance no longer holds the key; try again");
        }
        String owner = m.activeHost().host() + ":" + m.activeHost().port();
        try {
            return client.get("http://" + owner, path, selfName());
        } catch (IOException e) {
            return new ViewsClient.Reply(502, ViewsJson.error("the views instance that holds it (" + owner
                    + ") did not answer: " + e).toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return unavailable("interrupted");
        }
    }

    private <V> ReadOnlyKeyValueStore<String, V> store(String name, Integer partition) {
        StoreQueryParameters<ReadOnlyKeyValueStore<String, V>> q =
                StoreQueryParameters.fromNameAndType(name, QueryableStoreTypes.keyValueStore());
        return streams.store(partition == null ? q : q.withPartition(partition));
    }

    private String selfName() {
        return self.host() + ":" + self.port();
    }

    private static ViewsClient.Reply unavailable(String why) {
        return new ViewsClient.Reply(503, ViewsJson.error(why).toString());
    }
}
