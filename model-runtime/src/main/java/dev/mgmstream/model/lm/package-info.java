/**
 * The language model of a Mini-Gemini export, without Kafka: chat templates
 * ({@link dev.mgmstream.model.lm.ChatTemplate}, {@link dev.mgmstream.model.lm.ChatPrompt}), prompts
 * tokenised with the export's Hugging Face tokenizer and the image's visual tokens spliced in at the
 * image placeholder ({@link dev.mgmstream.model.lm.LanguageModel#prompt}), and batched decoding with a
 * KV cache and continuous batching ({@link dev.mgmstream.model.lm.Generator}), greedy or sampled
 * ({@link dev.mgmstream.model.lm.SamplingParams}).
 */
package dev.mgmstream.model.lm;
