package dev.specula.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.specula.core.decode.GenerationMetrics;

/** JSON forms shared by the commands. */
final class Json {
    private Json() {
    }

    static ObjectNode metrics(ObjectMapper mapper, GenerationMetrics m) {
        ObjectNode n = mapper.createObjectNode();
        n.put("generated_tokens", m.generatedTokens());
        n.put("tokens_per_second", m.tokensPerSecond());
        n.put("acceptance_rate", m.acceptanceRate());
        n.put("mean_tokens_per_target_call", m.meanTokensPerTargetCall());
        n.put("drafted_tokens", m.draftedTokens());
        n.put("accepted_tokens", m.acceptedTokens());
        n.put("steps", m.steps());
        n.put("target_calls", m.targetCalls());
        n.put("draft_calls", m.draftCalls());
        n.put("prefill_ms", m.prefillNanos() / 1e6);
        n.put("draft_ms", m.draftNanos() / 1e6);
        n.put("verify_ms", m.verifyNanos() / 1e6);
        n.put("other_ms", m.otherNanos() / 1e6);
        n.put("total_ms", m.totalNanos() / 1e6);
        n.put("seed", m.seed());
        ArrayNode ks = n.putArray("draft_lengths");
        for (int k : m.draftLengths()) {
            ks.add(k);
        }
        return n;
    }
}
