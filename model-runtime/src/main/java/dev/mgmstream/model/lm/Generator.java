package dev.mgmstream.model.lm;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.TranslateException;
import dev.mgmstream.model.ModelManifest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * Batched generation with a KV cache for one worker thread (it owns DJL predictors, which are not
 * thread-safe).
 *
 * <p>{@link #generate} runs a queue of prompts through at most {@code slots} rows. A group of waiting
 * prompts is prefilled together (left padding, attention mask 0 on pads, positions counted from each
 * row's first real token, exactly as the Python reference pads), and then all rows decode one token
 * per step from the cache. A row finishes on a stop token, a stop string, or its token budget. In
 * continuous mode, finished rows leave and waiting prompts are prefilled into the freed slots between
 * steps, so one long caption does not hold short answers back; the cache is re-packed then (see
 * {@link KvCache#repack}). In static mode a new group starts only when the whole previous group is done.
 *
 * <p>Every step's tensors live in a sub-manager closed by try-with-resources, and the cache in one of
 * its own, so nothing native outlives the call, whatever throws.
 */
public final class Generator implements AutoCloseable {

    private final LanguageModel lm;
    private final ModelManifest.LanguageModel spec;
    private final BatchingOptions options;
    private final Predictor<NDList, NDList> embed;
    private final DecoderBackend.Stepper decoder;
    private final NDManager root;
    private GenerationStats stats = GenerationStats.ZERO;
    private LogitsObserver observer;

    /** Sees the logits each live sequence's next token is chosen from; parity tests compare them. */
    interface LogitsObserver {
        void observe(String promptId, float[] logits, int offset, int vocab);
    }

    void observeLogits(LogitsObserver o) {
        this.observer = o;
    }

    private int choose(Seq s, float[] logits, int offset, int vocab) {
        if (observer != null) {
            observer.observe(s.prompt.id(), logits, offset, vocab);
        }
        return s.sampler.next(logits, offset, vocab);
    }

    Generator(LanguageModel lm, BatchingOptions options) {
        this.lm = lm;
        this.spec = lm.spec();
        this.options = options;
        this.root = lm.embedGraph().manager().newSubManager();
        this.embed = lm.embedGraph().newPredictor();
        try {
            this.decoder = lm.decoder().newStepper();
        } catch (RuntimeException e) {
            embed.close();
            root.close();
            throw e;
        }
    }

    /** Everything this generator has done so far. */
    public GenerationStats stats() {
        return stats;
    }

    public BatchingOptions options() {
        return options;
    }

    /** Native tensors this generator holds right now; zero between calls, whatever the last call did. */
    int liveArrays() {
        return root.getManagedArrays().size() + decoder.liveTensors();
    }

    /** One sequence's state while it decodes. */
    private final class Seq {
        final int index;
        final Prompt prompt;
        final Sampler sampler;
        final int limit;
        long[] tokens = new long[16];
        int count;
        long nextToken;
        long nextPosition;
        boolean done;
        FinishReason reason;
        String text;
        long admittedAt;

        Seq(int index, Prompt prompt) {
            this.index = index;
            this.prompt = prompt;
            this.sampler = new Sampler(prompt.params());
            // The context bounds the answer too: the last token fed must still have a position in it.
            this.limit = Math.min(prompt.params().maxNewTokens(), spec.contextLength() - prompt.length());
        }

        /** Takes the token the model just chose, finishing the sequence when it says so. */
        void accept(long token) {
            if (lm.isStopToken(token)) {
                finish(FinishReason.STOP, null);
                return;
            }
            if (count == tokens.length) {
                tokens = Arrays.copyOf(tokens, count * 2);
            }
            tokens[count++] = token;
            if (!lm.stopStrings().isEmpty()) {
                String sofar = lm.decode(Arrays.copyOf(tokens, count));
                for (String stop : lm.stopStrings()) {
                    int at = sofar.indexOf(stop);
                    if (at >= 0) {
                        finish(FinishReason.STOP, sofar.substring(0, at));
                        return;
                    }
                }
            }
            if (count >= limit) {
                finish(FinishReason.LENGTH, null);
                return;
            }
            nextToken = token;
        }

        void finish(FinishReason why, String cutText) {
            done = true;
            reason = why;
            text = cutText;
        }
    }

    /** Generates for every prompt; the result list is in the prompts' order. */
    public List<Completion> generate(List<Prompt> prompts) throws TranslateException {
        long t0 = System.nanoTime();
        // Prompts of like length are prefilled together: a group is padded to its longest prompt, and with
        // VQA questions of 20-odd tokens beside generation requests of 30 to 50 the padding was a third of
        // the prefill. Results keep the callers' order whatever the admission order.
        Deque<Seq> waiting = new ArrayDeque<>();
        for (int i = 0; i < prompts.size(); i++) {
            waiting.add(new Seq(i, prompts.get(i)));
        }
        if (options.mode() == BatchingOptions.Mode.CONTINUOUS) {
            List<Seq> byLength = new ArrayList<>(waiting);
            byLength.sort(java.util.Comparator.comparingInt(s -> s.prompt.length()));
            waiting = new ArrayDeque<>(byLength);
        }
        Completion[] out = new Completion[prompts.size()];
        List<Seq> rows = new ArrayList<>();
        KvCache cache = null;
        long prefillNs = 0;
        long decodeNs = 0;
        long repackNs = 0;
        long prefills = 0;
        long steps = 0;
        long generated = 0;
        try {
            while (true) {
                int live = 0;
                for (Seq s : rows) {
                    live += s.done ? 0 : 1;
                }
                if (waiting.isEmpty() && live == 0) {
                    break;
                }
                int free = options.slots() - live;
                boolean admit = !waiting.isEmpty() && (live == 0 || options.mode() == BatchingOptions.Mode.CONTINUOUS
                        && free >= Math.min(options.admitMinFree(), waiting.size()));
                if (admit) {
                    List<Seq> group = new ArrayList<>();
                    while (group.size() < free && !waiting.isEmpty()) {
                        group.add(waiting.poll());
                    }
                    long a = System.nanoTime();
                    KvCache fresh = prefill(group, a - t0);
                    long b = System.nanoTime();
                    prefillNs += b - a;
                    prefills++;
                    List<Integer> keepOld = liveRows(rows);
                    if (!keepOld.isEmpty() && !liveRows(group).isEmpty()) {
                        // The newcomers take their first decode step on their own before joining: short
                        // answers (a VQA word and its stop token) end there, so only the longer ones are
                        // copied into the shared cache, and often none is.
                        try {
                            fresh = step(fresh, group);
                        } catch (TranslateException | RuntimeException e) {
                            fresh.close();
                            throw e;
                        }
                        steps++;
                        collect(group, out, t0);
                        long c = System.nanoTime();
                        decodeNs += c - b;
                        b = c;
                    }
                    List<Integer> keepNew = liveRows(group);
                    if (!keepOld.isEmpty() && keepNew.isEmpty()) {
                        // every newcomer is done: the shared cache stays as it is, finished rows and all
                        fresh.close();
                    } else {
                        KvCache merged;
                        if (keepOld.isEmpty() && keepNew.isEmpty()) {
                            fresh.close();
                            merged = null;
                        } else if (keepOld.isEmpty() && keepNew.size() == group.size()) {
                            merged = fresh;
                        } else {
                            try {
                                merged = KvCache.repack(decoder, cache, keepOld, fresh, keepNew);
                            } finally {
                                fresh.close();
                            }
                        }
                        List<Seq> nextRows = new ArrayList<>();
                        keepOld.forEach(r -> nextRows.add(rows.get(r)));
                        keepNew.forEach(r -> nextRows.add(group.get(r)));
                        if (cache != null) {
                            cache.close();
                        }
                        cache = merged;
                        rows.clear();
                        rows.addAll(nextRows);
                    }
                    repackNs += System.nanoTime() - b;
                    collect(group, out, t0);
                } else if (options.mode() == BatchingOptions.Mode.CONTINUOUS && live > 0 && rows.size() - live >= live) {
                    // Finished rows still cost compute every step; once they are half the batch, drop them.
                    long a = System.nanoTime();
                    KvCache merged = KvCache.repack(decoder, cache, liveRows(rows), null, List.of());
                    cache.close();
                    cache = merged;
                    rows.removeIf(s -> s.done);
                    repackNs += System.nanoTime() - a;
                }
                if (rows.stream().allMatch(s -> s.done)) {
                    continue;
                }
                long a = System.nanoTime();
                cache = step(cache, rows);
                decodeNs += System.nanoTime() - a;
                steps++;
                collect(rows, out, t0);
            }
        } finally {
            if (cache != null) {
                cache.close();
            }
        }
        for (Completion c : out) {
            generated += c.completionTokens();
        }
        stats = stats.plus(new GenerationStats(prompts.size(), generated, prefills, steps, prefillNs, decodeNs,
                repackNs));
        return Arrays.asList(out);
    }

    private static List<Integer> liveRows(List<Seq> rows) {
        List<Integer> live = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            if (!rows.get(i).done) {
                live.add(i);
            }
        }
        return live;
    }

    private void collect(List<Seq> seqs, Completion[] out, long t0) {
        long now = System.nanoTime();
        for (Seq s : seqs) {
            if (s.done && out[s.index] == null) {
                long[] toks = Arrays.copyOf(s.tokens, s.count);
                String text = s.text != null ? s.text : lm.decode(toks);
                out[s.index] = new Completion(s.prompt.id(), text, toks, s.reason, s.prompt.length(), s.admittedAt,
                        now - t0);
            }
        }
    }

    /** Prefills a group of new sequences together; returns their cache and feeds each its first token. */
    private KvCache prefill(List<Seq> group, long admittedAt) throws TranslateException {
        int b = group.size();
        int t = 0;
        for (Seq s : group) {
            t = Math.max(t, s.prompt.length());
            s.admittedAt = admittedAt;
        }
        int d = spec.hiddenSize();
        int vocab = spec.vocabSize();
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        long[] pos = new long[b * t];
        int[] start = new int[b];
        Arrays.fill(ids, lm.padId());
        for (int i = 0; i < b; i++) {
            Prompt p = group.get(i).prompt;
            int pad = t - p.length();
            start[i] = pad;
            for (int j = 0; j < p.length(); j++) {
                ids[i * t + pad + j] = p.tokenIds()[j];
                mask[i * t + pad + j] = 1;
                pos[i * t + pad + j] = j;
            }
        }
        long[] lookup = ids.clone();
        for (int i = 0; i < lookup.length; i++) {
            if (lookup[i] == lm.imageTokenId()) {
                lookup[i] = lm.padId();   // the image's rows are overwritten; a sentinel id is not in the table
            }
        }
        float[] x;
        try (NDManager m = root.newSubManager()) {
            x = lm.embeddings().lookup(lookup, embed, m);   // (b, t, d), scaled text embeddings
        }
        for (int i = 0; i < b; i++) {
            Prompt p = group.get(i).prompt;
            int v = 0;
            for (int j = start[i]; j < t; j++) {
                if (ids[i * t + j] == lm.imageTokenId()) {
                    System.arraycopy(p.visualTokens(), v * d, x, (i * t + j) * d, d);
                    v++;
                }
            }
        }
        DecoderBackend.Step res = decoder.run(x, mask, pos, b, t, null);
        float[] logits = res.logits();   // (b, t, vocab), or (b, 1, vocab)
        int per = spec.decoder().lastLogitsOnly() ? 1 : t;
        KvCache fresh = new KvCache(res.present(), start);
        try {
            for (int i = 0; i < b; i++) {
                Seq s = group.get(i);
                s.nextPosition = s.prompt.length();
                s.accept(choose(s, logits, (i * per + per - 1) * vocab, vocab));
            }
        } catch (RuntimeException e) {
            fresh.close();
            throw e;
        }
        return fresh;
    }

    /** One decode step for every row (finished rows ride along until the next re-pack). */
    private KvCache step(KvCache cache, List<Seq> rows) throws TranslateException {
        int r = rows.size();
        int p = cache.length;
        int vocab = spec.vocabSize();
        long[] ids = new long[r];
        long[] pos = new long[r];
        long[] mask = new long[r * (p + 1)];
        for (int i = 0; i < r; i++) {
            Seq s = rows.get(i);
            ids[i] = s.done ? lm.padId() : s.nextToken;
            pos[i] = s.done ? 0 : s.nextPosition;
            Arrays.fill(mask, i * (p + 1) + cache.start[i], (i + 1) * (p + 1), 1L);
        }
        float[] x;
        try (NDManager m = root.newSubManager()) {
            x = lm.embeddings().lookup(ids, embed, m);
        }
        DecoderBackend.Step res = decoder.run(x, mask, pos, r, 1, cache.kv);
        float[] logits = res.logits();   // (r, 1, vocab)
        KvCache next = new KvCache(res.present(), cache.start);
        try {
            for (int i = 0; i < r; i++) {
                Seq s = rows.get(i);
                if (!s.done) {
                    s.nextPosition++;
                    s.accept(choose(s, logits, i * vocab, vocab));
                }
            }
        } catch (RuntimeException e) {
            next.close();
            throw e;
        }
        cache.close();
        return next;
    }

    @Override
    public void close() {
        decoder.close();
        embed.close();
        root.close();
    }
}
