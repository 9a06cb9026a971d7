package dev.mgmstream.schemas.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * {@link SchemaRegistryClient} over the Confluent Schema Registry REST API, with {@code java.net.http}.
 *
 * <p>Ids and registrations are cached for the life of the client: a global id never changes its schema,
 * and a schema once registered under a subject keeps its id, so the registry is asked once per schema
 * rather than once per record. Lookups that failed are not cached.
 */
public final class HttpSchemaRegistryClient implements SchemaRegistryClient {
    private final RegistryHttp http;
    private final ObjectMapper json = new ObjectMapper();
    private final Map<Integer, Schema> schemasById = new ConcurrentHashMap<>();
    private final String normalize;
    private final Map<SubjectSchema, Integer> idsBySubjectSchema = new ConcurrentHashMap<>();

    private record SubjectSchema(String subject, String canonical) {
    }

    public HttpSchemaRegistryClient(SchemaRegistryConfig config) {
        this.http = new RegistryHttp(config, json);
        this.normalize = config.normalize() ? "?normalize=true" : "";
    }

    /** A client configured by the {@code schema.registry.*} keys of a Kafka-style configuration map. */
    public static HttpSchemaRegistryClient fromConfig(Map<String, ?> config) {
        return new HttpSchemaRegistryClient(SchemaRegistryConfig.fromMap(config));
    }

    @Override
    public int register(String subject, Schema schema) {
        return cachedId(subject, schema, "POST", "/subjects/" + encode(subject) + "/versions" + normalize,
                "registering a schema under subject '" + subject + "'");
    }

    @Override
    public int idOf(String subject, Schema schema) {
        return cachedId(subject, schema, "POST", "/subjects/" + encode(subject) + normalize,
                "looking up a schema under subject '" + subject + "'");
    }

    private int cachedId(String subject, Schema schema, String method, String path, String what) {
        SubjectSchema key = new SubjectSchema(subject, schema.toString());
        Integer cached = idsBySubjectSchema.get(key);
        if (cached != null) {
            return cached;
        }
        JsonNode answer = http.call(method, path, schemaBody(schema), what);
        int id = requiredInt(answer, "id", what);
        idsBySubjectSchema.put(key, id);
        schemasById.putIfAbsent(id, schema);
        return id;
    }

    @Override
    public Schema schemaById(int id) {
        Schema cached = schemasById.get(id);
        if (cached != null) {
            return cached;
        }
        String what = "fetching the schema with id " + id;
        JsonNode answer = http.call("GET", "/schemas/ids/" + id, null, what);
        Schema schema = parseAvro(answer, id, what);
        Schema raced = schemasById.putIfAbsent(id, schema);
        return raced != null ? raced : schema;
    }

    @Override
    public RegisteredSchema latest(String subject) {
        String what = "fetching the latest version of subject '" + subject + "'";
        JsonNode answer = http.call("GET", "/subjects/" + encode(subject) + "/versions/latest", null, what);
        int id = requiredInt(answer, "id", what);
        return new RegisteredSchema(subject, requiredInt(answer, "version", what), id, parseAvro(answer, id, what));
    }

    @Override
    public boolean isCompatible(String subject, Schema schema) {
        String what = "checking compatibility of a schema with subject '" + subject + "'";
        try {
            JsonNode answer = http.call("POST", "/compatibility/subjects/" + encode(subject) + "/versions/latest",
                    schemaBody(schema), what);
            return answer.path("is_compatible").asBoolean(false);
        } catch (SchemaRegistryException e) {
            // Some registries answer 40401 instead of true for a subject with nothing to be incompatible with.
            if (e.errorCode() == RegistryErrorCodes.SUBJECT_NOT_FOUND) {
                return true;
            }
            throw e;
        }
    }

    @Override
    public List<String> subjects() {
        JsonNode answer = http.call("GET", "/subjects", null, "listing subjects");
        List<String> subjects = new ArrayList<>();
        answer.forEach(node -> subjects.add(node.asText()));
        return List.copyOf(subjects);
    }

    @Override
    public void updateCompatibility(String subject, CompatibilityLevel level) {
        http.call("PUT", "/config/" + encode(subject), compatibilityBody(level),
                "setting compatibility " + level + " on subject '" + subject + "'");
    }

    @Override
    public void updateGlobalCompatibility(CompatibilityLevel level) {
        http.call("PUT", "/config", compatibilityBody(level), "setting the global compatibility to " + level);
    }

    @Override
    public void close() {
        // java.net.http.HttpClient only gained close() in Java 21; its threads are daemons and die with it.
    }

    private ObjectNode schemaBody(Schema schema) {
        // schemaType is left out: AVRO is its default, and registries that predate the field reject it.
        return json.createObjectNode().put("schema", schema.toString());
    }

    private ObjectNode compatibilityBody(CompatibilityLevel level) {
        return json.createObjectNode().put("compatibility", level.name());
    }

    private static Schema parseAvro(JsonNode answer, int id, String what) {
        String type = answer.path("schemaType").asText("AVRO");
        if (!"AVRO".equals(type)) {
            throw new SchemaRegistryException(what + ": schema " + id + " is of type " + type + ", not AVRO", 200, -1, null);
        }
        if (!answer.hasNonNull("schema")) {
            throw new SchemaRegistryException(what + ": the answer holds no schema: " + answer, 200, -1, null);
        }
        try {
            return new Schema.Parser().parse(answer.get("schema").asText());
        } catch (SchemaParseException e) {
            throw new SchemaRegistryException(what + ": schema " + id + " is not valid Avro: " + e.getMessage(), 200, -1, e);
        }
    }

    private static int requiredInt(JsonNode answer, String field, String what) {
        JsonNode node = answer.get(field);
        if (node == null || !node.canConvertToInt()) {
            throw new SchemaRegistryException(what + ": the answer has no integer '" + field + "': " + answer, 200, -1, null);
        }
        return node.asInt();
    }

    private static String encode(String pathSegment) {
        return URLEncoder.encode(pathSegment, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
