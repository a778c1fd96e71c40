package dev.specula.core.acceptance;

import dev.specula.core.draft.Proposal;
import dev.specula.core.model.Logits;
import dev.specula.core.sampling.Distribution;
import dev.specula.core.sampling.KeyedNoise;
import dev.specula.core.sampling.SamplingMode;
import dev.specula.core.sampling.SamplingParams;
import dev.specula.core.sampling.SamplingTransform;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decisions settled from a row's bounds are the decisions the full distributions give: every rule, on rows from
 * flat to peaked, with drafts from a nearby draft distribution, random tokens and the target's favourites.
 */
class BoundedDecisionsTest {

    @Test
    void boundedVerdictsEqualFullVerdicts() {
        SplittableRandom r = new SplittableRandom(5);
        long bounded = 0;
        long full = 0;
        for (int trial = 0; trial < 600; trial++) {
            int vocab = 50 + r.nextInt(2000);
            int k = 1 + r.nextInt(6);
            double sd = 0.5 + r.nextDouble() * 5;
            float[][] target = new float[k + 1][vocab];
            float[][] draft = new float[k][vocab];
            for (int i = 0; i <= k; i++) {
                int favourite = r.nextInt(vocab);
                double lift = r.nextDouble() * 25;
                for (int t = 0; t < vocab; t++) {
                    target[i][t] = (float) (r.nextGaussian() * sd + (t == favourite ? lift : 0));
                    if (i < k) {
                        draft[i][t] = target[i][t] + (float) (r.nextGaussian() * r.nextDouble());
                    }
                }
            }
            SamplingMode mode = r.nextBoolean() ? SamplingMode.COUPLED : SamplingMode.REJECTION;
            SamplingParams params = SamplingParams.builder().temperature(0.3 + r.nextDouble() * 1.2).mode(mode).build();
            KeyedNoise noise = new KeyedNoise(trial);
            long first = r.nextInt(1000);
            SamplingTransform draftTransform = new SamplingTransform(params, vocab);
            Logits draftLogits = Logits.of(draft);
            Distribution[] q = new Distribution[k];
            int[] tokens = new int[k];
            int style = r.nextInt(3);
            for (int i = 0; i < k; i++) {
                q[i] = draftTransform.apply(draftLogits, i, new Distribution(vocab));
                tokens[i] = style == 0 ? noise.gumbelMax(q[i], first + i)
                        : style == 1 ? q[i].argmax() : r.nextInt(vocab);
            }
            boolean oneHot = style == 2 || r.nextInt(4) == 0;
            Proposal proposal = oneHot ? Proposal.oneHot(tokens) : new Proposal(tokens, q, null, k);
            if (!oneHot && mode == SamplingMode.REJECTION) {
                for (int i = 0; i < k; i++) {
                    if (!(q[i].prob(tokens[i]) > 0)) {
                        tokens[i] = q[i].argmax(); // a model draft only proposes tokens its q can produce
                    }
                }
            }
            AcceptanceRule rule = AcceptanceRule.select(params, proposal);
            Logits logits = Logits.of(target);
            TargetScores withBounds = new TargetScores(new SamplingTransform(params, vocab), true).reset(logits, first);
            TargetScores without = new TargetScores(new SamplingTransform(params, vocab), false).reset(logits, first);
            Verdict fast = rule.decide(proposal, withBounds, noise);
            Verdict exact = rule.decide(proposal, without, noise);
            assertEquals(exact, fast, "trial " + trial + " rule " + rule.getClass().getSimpleName());
            bounded += withBounds.transformed();
            full += without.transformed();
        }
        assertTrue(bounded < full / 2, "bounds saved too little: " + bounded + " rows transformed against " + full);
    }
}
