package dev.specula.core.decode;

import dev.specula.core.acceptance.Verdict;
import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.Proposal;
import dev.specula.core.draft.TokenBuffer;
import dev.specula.core.model.CausalLanguageModel;
import dev.specula.core.sampling.SamplingParams;

import java.util.Arrays;
import java.util.Set;

/**
 * The bookkeeping of one generation that does not depend on how its steps are run: the history, the end and stop
 * tokens, the tokens emitted and streamed, the budget, and the metrics. Shared by the single-generation loop
 * ({@link SpeculativeDecoder}) and the batched one ({@link BatchStepper}), so both end, stream and measure a
 * generation the same way. Not thread-safe: one thread drives it.
 */
final class Generation {
    private static final byte END = 1;
    private static final byte STOP = 2;

    final int[] prompt;
    final SamplingParams params;
    final TokenListener listener;
    final TokenBuffer history;
    final long seed;
    private final byte[] enders;
    private final int maxLength;
    private int[] output;
    private int generated;
    private int[] draftLengths = new int[64];
    private int steps;
    private int drafted;
    private int accepted;
    private int draftCalls;
    long prefillNanos;
    private long draftNanos;
    private long verifyNanos;
    FinishReason reason;

    Generation(int[] prompt, SamplingParams params, TokenListener listener, Set<Integer> endOfSequence,
               CausalLanguageModel target, long seed) {
        this.prompt = prompt;
        this.params = params;
        this.listener = listener;
        this.seed = seed;
        this.history = new TokenBuffer(prompt);
        this.output = new int[Math.min(params.maxNewTokens(), 1024)];
        this.maxLength = target.maxSequenceLength();
        this.enders = new byte[target.vocabSize()];
        for (int id : params.stopTokenIds()) {
            if (id >= 0 && id < enders.length) {
                enders[id] = STOP;
            }
        }
        for (int id : endOfSequence) {
            if (id >= 0 && id < enders.length) {
                enders[id] = END;
            }
        }
    }

    /**
     * Checks a prompt against the target: at least one token, every id in the vocabulary, room left to generate.
     *
     * @throws IllegalArgumentException naming the bad token or length and what was expected
     */
    static void validatePrompt(int[] prompt, CausalLanguageModel target) {
        int vocab = target.vocabSize();
        int maxLength = target.maxSequenceLength();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token, got none");
        }
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + i + " is " + prompt[i]
                        + ", expected an id in [0, " + vocab + ")");
            }
        }
        if (prompt.length >= maxLength) {
            throw new IllegalArgumentException("prompt has " + prompt.length + " tokens but the context of "
                    + target.name() + " holds " + maxLength + ": at most " + (maxLength - 1)
                    + " prompt tokens leave room to generate");
        }
    }

    /**
     * Checks that a model drafter (null: none) scores the target's vocabulary.
     *
     * @throws IllegalArgumentException naming both sizes
     */
    static void checkDrafter(Drafter drafter, CausalLanguageModel target) {
        if (drafter != null && drafter.vocabSize().isPresent() && drafter.vocabSize().getAsInt() != target.vocabSize()) {
            throw new IllegalArgumentException("draft vocabulary size " + drafter.vocabSize().getAsInt()
                    + " differs from the target's " + target.vocabSize() + " (" + target.name()
                    + "); draft and target must share one tokenizer and vocabulary");
        }
    }

    /** Draft tokens the next step may verify: one token of the room left is the target's own. */
    int draftRoom() {
        int room = Math.min(params.maxNewTokens() - generated, maxLength - history.size());
        return Math.max(0, room - 1);
    }

    /**
     * Checks what a drafter proposed against what was asked.
     *
     * @throws IllegalStateException if it proposed more than {@code k} tokens or an id outside the vocabulary
     */
    void check(Proposal proposal, int k, String drafterName) {
        if (proposal.size() > k) {
            throw new IllegalStateException("drafter " + drafterName + " proposed " + proposal.size()
                    + " tokens, but at most " + k + " were asked for");
        }
        for (int t : proposal.tokens()) {
            if (t < 0 || t >= enders.length) {
                throw new IllegalStateException("drafter " + drafterName + " proposed token " + t
                        + ", expected an id in [0, " + enders.length + ")");
            }
        }
    }

    /** Records one step's draft length and costs. */
    void record(int k, Proposal proposal, long draft, long verify) {
        if (steps == draftLengths.length) {
            draftLengths = Arrays.copyOf(draftLengths, steps * 2);
        }
        draftLengths[steps++] = k;
        drafted += proposal.size();
        draftCalls += proposal.modelCalls();
        draftNanos += draft;
        verifyNanos += verify;
    }

    /**
     * Emits a verdict's tokens (the accepted draft tokens, then the target's) until the generation ends, streaming
     * each to the listener. A listener's exception propagates (after the token was recorded).
     */
    void emit(Proposal proposal, Verdict verdict) {
        int[] tokens = proposal.tokens();
        for (int i = 0; i < verdict.accepted() && reason == null; i++) {
            emit(tokens[i], true);
        }
        if (reason == null) {
            emit(verdict.nextToken(), false);
        }
        accepted += verdict.accepted();
    }

    private void emit(int token, boolean fromDraft) {
        byte end = enders[token];
        if (end == END) {
            reason = FinishReason.END_OF_SEQUENCE;
            return;
        }
        if (end == STOP) {
            reason = FinishReason.STOP_TOKEN;
            return;
        }
        history.append(token);
        if (generated == output.length) {
            output = Arrays.copyOf(output, Math.min(params.maxNewTokens(), output.length * 2));
        }
        output[generated++] = token;
        if (generated >= params.maxNewTokens()) {
            reason = FinishReason.MAX_TOKENS;
        } else if (history.size() >= maxLength) {
            reason = FinishReason.CONTEXT_FULL;
        }
        listener.onToken(token, fromDraft);
    }

    int generated() {
        return generated;
    }

    /** The result, for a generation that took {@code totalNanos} and made {@code prefillCalls} prefill calls. */
    GenerationResult result(long totalNanos, int prefillCalls) {
        GenerationMetrics metrics = new GenerationMetrics(prompt.length, generated, drafted, accepted, steps,
                steps + prefillCalls, draftCalls, prefillNanos, draftNanos, verifyNanos, totalNanos,
                Arrays.copyOf(draftLengths, steps), seed);
        return new GenerationResult(Arrays.copyOf(output, generated), reason, metrics);
    }
}
