package dev.mgmstream.encoders;

import dev.mgmstream.encoders.EncoderMetrics.Step;
import dev.mgmstream.encoders.cache.VisualTokenCache;
import dev.mgmstream.encoders.source.ImageLoader;
import dev.mgmstream.encoders.source.ImageSource;
import dev.mgmstream.encoders.source.TransientSourceException;
import dev.mgmstream.model.vision.ImageDecoder;
import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import dev.mgmstream.model.vision.PixelViews;
import dev.mgmstream.model.vision.VisionEncoder;
import dev.mgmstream.pipeline.stage.BatchFunction;
import dev.mgmstream.pipeline.stage.Emitted;
import dev.mgmstream.pipeline.stage.InputRecord;
import dev.mgmstream.pipeline.stage.Output;
import dev.mgmstream.pipeline.stage.OutputTopic;
import dev.mgmstream.pipeline.stage.Reject;
import dev.mgmstream.pipeline.stage.TransientBatchException;
import dev.mgmstream.schemas.avro.ImageRefs;
import dev.mgmstream.schemas.avro.ImageTask;
import dev.mgmstream.schemas.avro.ImageUri;
import dev.mgmstream.schemas.avro.InlineImage;
import dev.mgmstream.schemas.avro.TaskRef;
import dev.mgmstream.schemas.avro.VisualTokens;
import dev.mgmstream.schemas.topics.TaskIdsHeader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The encoders stage's batch function: {@code ImageTask}s in, one {@code VisualTokens} per distinct image out
 * (carrying every task on that image), or a rejection per task whose image cannot be had.
 *
 * <ol>
 *   <li>Fetch every task's image (inline bytes, or a URI under the loading policy) and name it by the SHA-256
 *   of its bytes, in parallel on the decode pool. A file the source read before and knows unchanged is
 *   named without reading it, and when the cache holds its tokens it is not read at all.</li>
 *   <li>Group the tasks by image: an image asked about several times in one batch is handled once.</li>
 *   <li>Look each image up in the visual-token cache (same image, same model): a hit needs no encoder.</li>
 *   <li>Decode and preprocess the misses in parallel; an image that cannot be decoded rejects its tasks.</li>
 *   <li>Encode all misses in one batched call of the vision encoders.</li>
 *   <li>Serialise the tokens (inline or claim check) and emit; fresh encodings also go to the cache topic.
 *   Both records stand for every task on the image ({@link Output#shared}), and the tokens record names
 *   those tasks in its {@link TaskIdsHeader} too, for a reader that cannot decode it.</li>
 * </ol>
 *
 * <p>Pure as the runtime requires: the same inputs give equivalent outputs, whether the tokens come from
 * the cache or a new encoding (the encoders are deterministic). Failures of the store a URI points into, and
 * of the claim-check store the tokens go to, are thrown as {@link TransientBatchException} so the batch is
 * retried instead of its tasks rejected.
 */
final class EncodeBatch implements BatchFunction<String, ImageTask> {
    private static final Logger log = LoggerFactory.getLogger(EncodeBatch.class);

    private final ImageLoader loader;
    private final ImageDecoder decoder;
    private final VisionEncoder encoder;
    private final String modelId;
    private final VisualTokenCache cache;
    private final TokenWriter writer;
    private final OutputTopic<String, VisualTokens> tokensTopic;
    private final OutputTopic<String, VisualTokens> cacheTopic;
    private final EncoderMetrics metrics;
    private final ExecutorService pool;

    /** @param cache null to encode every image every time (no cache topic output either) */
    EncodeBatch(ImageLoader loader, ImageDecoder decoder, VisionEncoder encoder, VisualTokenCache cache,
                TokenWriter writer, OutputTopic<String, VisualTokens> tokensTopic,
                OutputTopic<String, VisualTokens> cacheTopic, EncoderMetrics metrics, ExecutorService pool) {
        this.loader = loader;
        this.decoder = decoder;
        this.encoder = encoder;
        this.modelId = encoder.manifest().modelId();
        this.cache = cache;
        this.writer = writer;
        this.tokensTopic = tokensTopic;
        this.cacheTopic = cacheTopic;
        this.metrics = metrics;
        this.pool = pool;
    }

    /**
     * An image fetched for one task; {@code bytes} is null when the cache already held its tokens
     * ({@code cached}) and the source could name the image without reading it.
     */
    private record Fetched(byte[] bytes, String imageId, VisualTokens cached, long nanos) {}

    /** Decoded and preprocessed pixels of one image, with the time each step took. */
    private record Prepared(PixelViews views, long decodeNanos, long preprocessNanos) {}

    /** The tasks of one batch that ask about the same image. */
    private static final class Group {
        final String imageId;
        byte[] bytes;
        final List<InputRecord<String, ImageTask>> tasks = new ArrayList<>();
        VisualTokens cached;
        Future<Prepared> preparing;
        ImageRejectedException rejected;
        int encodedIndex = -1;

        Group(String imageId) {
            this.imageId = imageId;
        }
    }

    @Override
    public List<Emitted> apply(List<InputRecord<String, ImageTask>> batch) throws Exception {
        long started = System.nanoTime();
        List<Emitted> out = new ArrayList<>();
        if (cache != null) {
            cache.awaitStartup();
        }
        Map<String, Group> groups = fetchAndGroup(batch, out);
        long fetched = System.nanoTime();
        List<Group> misses = new ArrayList<>();
        for (Group g : groups.values()) {
            if (cache != null && g.cached == null) {
                g.cached = cache.get(g.imageId, modelId).orElse(null);
            }
            if (g.cached != null) {
                metrics.cacheHit();
            } else {
                g.preparing = pool.submit(() -> prepare(g.bytes));
                misses.add(g);
            }
            metrics.shared(g.tasks.size() - 1);
        }
        List<PixelViews> toEncode = new ArrayList<>();
        long decodeNanos = 0;
        long preprocessNanos = 0;
        for (Group g : misses) {
            try {
                Prepared p = g.preparing.get();
                decodeNanos += p.decodeNanos();
                preprocessNanos += p.preprocessNanos();
                g.encodedIndex = toEncode.size();
                toEncode.add(p.views());
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ImageRejectedException r) {
                    g.rejected = r;
                } else {
                    throw rethrow(e.getCause());
                }
            }
        }
        metrics.time(Step.DECODE, decodeNanos);
        metrics.time(Step.PREPROCESS, preprocessNanos);

        VisionEncoder.Encoded encoded = encoder.encode(toEncode);
        if (!toEncode.isEmpty()) {
            metrics.encoded(toEncode.size());
            metrics.time(Step.LR, encoded.lrNanos());
            metrics.time(Step.HR, encoded.hrNanos());
            metrics.time(Step.MINING, encoded.miningNanos());
        }

        long t0 = System.nanoTime();
        for (Group g : groups.values()) {
            if (g.rejected != null) {
                for (InputRecord<String, ImageTask> in : g.tasks) {
                    metrics.rejected(g.rejected.reason());
                    out.add(Reject.of(in, g.rejected));
                }
                continue;
            }
            // Every output of an image stands for all its tasks: one that cannot be written must reject them
            // all (each then answered), not the first alone while the others are committed with no answer.
            VisualTokens tokens = g.cached;
            if (tokens == null) {
                tokens = fresh(g.imageId, encoded.tokens().get(g.encodedIndex), encoded.shape());
                if (cache != null) {
                    cache.remember(tokens);
                    out.add(Output.shared(g.tasks, cacheTopic, VisualTokenCache.key(g.imageId, modelId), tokens));
                }
            }
            VisualTokens withTasks = VisualTokens.newBuilder(tokens).setTasks(taskRefs(g.tasks)).build();
            out.add(Output.shared(g.tasks, tokensTopic, g.imageId, withTasks)
                    .withHeader(TaskIdsHeader.NAME, TaskIdsHeader.encode(taskIds(g.tasks))));
        }
        long done = System.nanoTime();
        metrics.time(Step.SERIALISE, done - t0);
        if (log.isDebugEnabled()) {
            log.debug("Encoders batch: {} tasks, {} images ({} encoded): fetch {} ms, decode and preprocess {} ms, "
                            + "encoders {} ms (lr {}, hr {}, mining {}), records {} ms", batch.size(), groups.size(),
                    toEncode.size(), (fetched - started) / 1_000_000, (t0 - fetched) / 1_000_000
                            - (encoded.lrNanos() + encoded.hrNanos() + encoded.miningNanos()) / 1_000_000,
                    (encoded.lrNanos() + encoded.hrNanos() + encoded.miningNanos()) / 1_000_000,
                    encoded.lrNanos() / 1_000_000, encoded.hrNanos() / 1_000_000, encoded.miningNanos() / 1_000_000,
                    (done - t0) / 1_000_000);
        }
        return out;
    }

    private Map<String, Group> fetchAndGroup(List<InputRecord<String, ImageTask>> batch, List<Emitted> out)
            throws Exception {
        List<Future<Fetched>> fetches = new ArrayList<>(batch.size());
        for (InputRecord<String, ImageTask> in : batch) {
            fetches.add(pool.submit(() -> fetch(in.value())));
        }
        Map<String, Group> groups = new LinkedHashMap<>();
        long loadNanos = 0;
        for (int i = 0; i < batch.size(); i++) {
            InputRecord<String, ImageTask> in = batch.get(i);
            try {
                Fetched f = fetches.get(i).get();
                loadNanos += f.nanos();
                Group g = groups.computeIfAbsent(f.imageId(), Group::new);
                g.tasks.add(in);
                if (g.bytes == null) {
                    g.bytes = f.bytes();
                }
                if (g.cached == null) {
                    g.cached = f.cached();
                }
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof ImageRejectedException r) {
                    metrics.rejected(r.reason());
                    out.add(Reject.of(in, r));
                } else if (cause instanceof TransientSourceException t) {
                    throw new TransientBatchException(t.getMessage(), t);
                } else {
                    throw rethrow(cause);
                }
            }
        }
        metrics.time(Step.LOAD, loadNanos);
        return groups;
    }

    private Fetched fetch(ImageTask task) throws ImageRejectedException, TransientSourceException {
        long t0 = System.nanoTime();
        Object image = task.getImage();
        if (image instanceof InlineImage inline) {
            ByteBuffer data = inline.getData().duplicate();
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            return new Fetched(bytes, checkedId(task, TokenWriter.sha256(bytes)), null, System.nanoTime() - t0);
        }
        if (!(image instanceof ImageUri uri)) {
            throw new ImageRejectedException(Reason.INVALID_TASK, "the task carries no image");
        }
        if (uri.getSizeBytes() != null && uri.getSizeBytes() > decoder.limits().maxBytes()) {
            throw new ImageRejectedException(Reason.TOO_MANY_BYTES, "the image at " + uri.getUri() + " has "
                    + uri.getSizeBytes() + " bytes, more than the limit of " + decoder.limits().maxBytes());
        }
        // "Encode once, ask many": an image read before and unchanged since (its source tells by the file's
        // stamp) whose tokens are cached needs neither reading nor hashing again.
        String known = cache == null ? null : loader.knownSha256(uri.getUri());
        VisualTokens cached = known == null ? null : cache.get(known, modelId).orElse(null);
        if (cached != null) {
            return new Fetched(null, checkedId(task, known), cached, System.nanoTime() - t0);
        }
        ImageSource.Fetched fetched = loader.loadWithSha256(uri.getUri());
        return new Fetched(fetched.bytes(), checkedId(task, fetched.sha256()), null, System.nanoTime() - t0);
    }

    private static String checkedId(ImageTask task, String sha256) throws ImageRejectedException {
        if (task.getImageId() != null && !task.getImageId().equalsIgnoreCase(sha256)) {
            throw new ImageRejectedException(Reason.INVALID_TASK, "the task's image_id " + task.getImageId()
                    + " is not the SHA-256 of its image (" + sha256 + ")");
        }
        return sha256;
    }

    private Prepared prepare(byte[] bytes) throws ImageRejectedException {
        long t0 = System.nanoTime();
        var rgb = decoder.decode(bytes);
        long t1 = System.nanoTime();
        PixelViews views = encoder.preprocessor().apply(rgb);
        return new Prepared(views, t1 - t0, System.nanoTime() - t1);
    }

    private VisualTokens fresh(String imageId, float[] values, int[] shape) throws TransientBatchException {
        TokenWriter.Payload p = writer.write(values);
        if (p.uri() != null) {
            metrics.claimCheck();
        }
        return VisualTokens.newBuilder()
                .setImageId(imageId)
                .setModelId(modelId)
                .setShape(List.of(shape[0], shape[1]))
                .setDtype(writer.dtype())
                .setPayload(p.inline())
                .setClaimCheckUri(p.uri())
                .setTasks(List.of())
                .build();
    }

    private static List<String> taskIds(List<InputRecord<String, ImageTask>> tasks) {
        return tasks.stream().map(in -> in.value().getTaskId()).toList();
    }

    private static List<TaskRef> taskRefs(List<InputRecord<String, ImageTask>> tasks) {
        long now = System.currentTimeMillis();
        List<TaskRef> refs = new ArrayList<>(tasks.size());
        for (InputRecord<String, ImageTask> in : tasks) {
            ImageTask t = in.value();
            // Time since the task was written to the ingest topic: its wait in the queue plus this batch.
            long encodersMs = Math.max(0, now - in.timestamp());
            refs.add(TaskRef.newBuilder()
                    .setTaskId(t.getTaskId())
                    .setKind(t.getKind())
                    .setPrompt(t.getPrompt())
                    .setOptions(t.getOptions())
                    .setSubmittedAt(t.getSubmittedAt())
                    .setAttributes(t.getAttributes())
                    .setTraceId(t.getTraceId())
                    .setImage(ImageRefs.describe(t))
                    .setLatencies(Map.of("encoders", encodersMs))
                    .build());
        }
        return refs;
    }


    private static Exception rethrow(Throwable t) {
        if (t instanceof Error e) {
            throw e;
        }
        return t instanceof Exception e ? e : new RuntimeException(t);
    }
}
