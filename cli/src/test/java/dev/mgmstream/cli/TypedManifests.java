package dev.mgmstream.cli;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PodMonitor;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;

/**
 * Rendered manifests read into typed models, unknown fields refused.
 *
 * <p>Each document's apiVersion and kind pick its class ({@link #KINDS}): fabric8's Kubernetes model for
 * the core, apps and policy kinds and for the Prometheus operator's monitors, Strimzi's api model for the
 * Strimzi kinds, and the records of {@link Keda} for KEDA's. A kind with no class is refused, naming it.
 *
 * <p>Unknown fields: the records are read with {@code FAIL_ON_UNKNOWN_PROPERTIES}. fabric8's and Strimzi's
 * classes accept any field, keeping those they do not know in an {@code additionalProperties} map; so the
 * object graph is walked after reading, and every non-empty {@code additionalProperties} is refused with
 * the document and the path where it was found. The same walk refuses a value that read as nothing
 * (Strimzi reads an enum value it does not know as null), so a misspelt value is caught as well.
 */
final class TypedManifests {

    private TypedManifests() {
    }

    /** apiVersion/kind to the typed class of such documents. */
    static final Map<String, Class<?>> KINDS = Map.ofEntries(
            Map.entry("v1/Namespace", Namespace.class),
            Map.entry("v1/ConfigMap", ConfigMap.class),
            Map.entry("v1/Secret", Secret.class),
            Map.entry("v1/Service", Service.class),
            Map.entry("v1/PersistentVolumeClaim", PersistentVolumeClaim.class),
            Map.entry("apps/v1/StatefulSet", StatefulSet.class),
            Map.entry("apps/v1/Deployment", Deployment.class),
            Map.entry("policy/v1/PodDisruptionBudget", PodDisruptionBudget.class),
            Map.entry("monitoring.coreos.com/v1/ServiceMonitor", ServiceMonitor.class),
            Map.entry("monitoring.coreos.com/v1/PodMonitor", PodMonitor.class),
            Map.entry("kafka.strimzi.io/v1/Kafka", Kafka.class),
            Map.entry("kafka.strimzi.io/v1/KafkaNodePool", KafkaNodePool.class),
            Map.entry("kafka.strimzi.io/v1/KafkaTopic", KafkaTopic.class),
            Map.entry("kafka.strimzi.io/v1/KafkaUser", KafkaUser.class),
            Map.entry(Keda.API_VERSION + "/ScaledObject", Keda.ScaledObject.class),
            Map.entry(Keda.API_VERSION + "/TriggerAuthentication", Keda.TriggerAuthentication.class));

    /** Strict where Jackson decides: the records' unknown fields, null primitives, numbers into enums. */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
            .build();

    /** One rendered document and its typed form. */
    record Manifest(String kind, String name, JsonNode tree, Object model) {
        String id() {
            return kind + "/" + name;
        }
    }

    /** Thrown for a document that does not read into its type, with every reason found. */
    static final class Refused extends AssertionError {
        Refused(String message) {
            super(message);
        }
    }

    /** Types every document; all refusals of all documents in one error, each naming document and path. */
    static List<Manifest> type(String where, List<JsonNode> docs) {
        List<Manifest> out = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        for (JsonNode doc : docs) {
            String kind = doc.path("kind").asText();
            String name = doc.path("metadata").path("name").asText();
            try {
                out.add(new Manifest(kind, name, doc, type(doc)));
            } catch (Refused e) {
                refused.add(where + ": " + kind + "/" + name + ": " + e.getMessage());
            }
        }
        if (!refused.isEmpty()) {
            throw new Refused(String.join("\n", refused));
        }
        return out;
    }

    /** One document in its typed form; {@link Refused} if its kind has no model or a field is unknown. */
    static Object type(JsonNode doc) {
        String key = doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
        Class<?> type = KINDS.get(key);
        if (type == null) {
            throw new Refused("no typed model for apiVersion " + doc.path("apiVersion").asText() + " kind "
                    + doc.path("kind").asText() + " (add one to TypedManifests.KINDS)");
        }
        Object model;
        try {
            model = MAPPER.treeToValue(doc, type);
        } catch (JsonMappingException e) {
            throw new Refused(path(e) + ": " + e.getOriginalMessage().split("\n")[0]);
        } catch (Exception e) {
            throw new Refused(String.valueOf(e.getMessage()));
        }
        List<String> unknown = new ArrayList<>();
        unknownFields(model, doc, "", unknown, Collections.newSetFromMap(new IdentityHashMap<>()));
        if (model instanceof Keda.ScaledObject so && so.spec() != null && so.spec().triggers() != null) {
            for (int i = 0; i < so.spec().triggers().size(); i++) {
                Keda.Trigger t = so.spec().triggers().get(i);
                if ("kafka".equals(t.type())) {
                    try {
                        MAPPER.convertValue(t.metadata(), Keda.KafkaScaler.class);
                    } catch (IllegalArgumentException e) {
                        unknown.add("spec.triggers[" + i + "].metadata: "
                                + (e.getCause() instanceof JsonMappingException m ? path(m) : e.getMessage())
                                + " (not a key of KEDA's kafka scaler)");
                    }
                }
            }
        }
        if (!unknown.isEmpty()) {
            throw new Refused("unknown field(s) " + String.join(", ", unknown));
        }
        return model;
    }

    private static String path(JsonMappingException e) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                b.append(b.length() == 0 ? "" : ".").append(r.getFieldName());
            } else {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    private static final Map<Class<?>, List<Field>> FIELDS = new ConcurrentHashMap<>();

    /**
     * Walks the models' own objects beside the document's tree, collecting the paths of unknown fields kept
     * in additionalProperties, and of values the model read as nothing (Strimzi reads an enum value it does
     * not know, such as an ACL operation "Reed", as null).
     */
    private static void unknownFields(Object o, JsonNode tree, String path, List<String> out, Set<Object> seen) {
        if (o == null) {
            if (tree != null && !tree.isMissingNode() && !tree.isNull()) {
                out.add(path + " (value " + tree + " read as nothing)");
            }
            return;
        }
        if (!seen.add(o)) {
            return;
        }
        JsonNode t = tree == null ? MissingNode.getInstance() : tree;
        if (o instanceof List<?> c) {
            int i = 0;
            for (Object item : c) {
                unknownFields(item, t.isArray() ? t.path(i) : null, path + "[" + i++ + "]", out, seen);
            }
            return;
        }
        if (o instanceof Collection<?> c) {
            int i = 0;
            for (Object item : c) {
                unknownFields(item, null, path + "[" + i++ + "]", out, seen);
            }
            return;
        }
        if (o instanceof Map<?, ?> m) {
            m.forEach((k, v) -> unknownFields(v, t.path(String.valueOf(k)), path + "[" + k + "]", out, seen));
            return;
        }
        if (!isModel(o.getClass())) {
            return;
        }
        for (Field f : FIELDS.computeIfAbsent(o.getClass(), TypedManifests::fields)) {
            Object value;
            try {
                value = f.get(o);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
            if (f.getName().equals("additionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    new TreeMap<>(extra).keySet().forEach(k -> out.add((path.isEmpty() ? "" : path + ".") + k));
                }
                continue;
            }
            JsonProperty p = f.getAnnotation(JsonProperty.class);
            String name = p != null && !p.value().isEmpty() ? p.value() : f.getName();
            unknownFields(value, t.get(name), path.isEmpty() ? name : path + "." + name, out, seen);
        }
    }

    private static boolean isModel(Class<?> c) {
        String n = c.getName();
        return !c.isEnum() && (n.startsWith("io.fabric8.") || n.startsWith("io.strimzi.") || c.isRecord());
    }

    private static List<Field> fields(Class<?> c) {
        List<Field> out = new ArrayList<>();
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            for (Field f : k.getDeclaredFields()) {
                if (!Modifier.isStatic(f.getModifiers()) && !f.getType().isPrimitive()
                        && f.getType() != String.class) {
                    f.setAccessible(true);
                    out.add(f);
                }
            }
        }
        return out;
    }
}
