package dev.specula.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.specula.core.sampling.SamplingParams;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A benchmark workload: a fixed set of prompts (shipped with the harness, from held-out files of the corpus)
 * and how to decode them.
 *
 * @param name        code, edit or sampled
 * @param description what it exercises
 * @param prompts     the prompts
 * @param params      sampling parameters (seeds vary per prompt; the same for every configuration)
 */
public record Workload(String name, String description, List<String> prompts, SamplingParams params) {

    public static final List<String> NAMES = List.of("code", "edit", "sampled");

    public Workload {
        prompts = List.copyOf(prompts);
    }

    /** The shipped workloads; {@code quick} keeps 2 prompts of each and 48 new tokens. */
    public static List<Workload> load(List<String> names, boolean quick, int maxNewTokens) {
        return load(names, quick, maxNewTokens, 0);
    }

    /**
     * The shipped workloads with at most {@code maxPrompts} prompts each (the first ones; 0 for all), e.g. to bench a
     * 1B-parameter model in minutes; {@code quick} keeps at most 2 either way.
     */
    public static List<Workload> load(List<String> names, boolean quick, int maxNewTokens, int maxPrompts) {
        if (maxPrompts < 0) {
            throw new IllegalArgumentException("maxPrompts must be >= 0 (0 for all), got " + maxPrompts);
        }
        JsonNode root;
        try (InputStream in = Workload.class.getResourceAsStream("workloads.json")) {
            root = new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the shipped workloads", e);
        }
        List<Workload> out = new ArrayList<>();
        for (String name : names) {
            if (!NAMES.contains(name)) {
                throw new IllegalArgumentException("unknown workload '" + name + "', expected one of " + NAMES);
            }
            List<String> prompts = new ArrayList<>();
            root.get(name).forEach(p -> prompts.add(p.asText()));
            int keep = quick ? 2 : prompts.size();
            if (maxPrompts > 0) {
                keep = Math.min(keep, maxPrompts);
            }
            prompts.subList(Math.min(keep, prompts.size()), prompts.size()).clear();
            int defaultTokens = quick ? 48 : name.equals("edit") ? 192 : 128;
            int tokens = maxNewTokens > 0 ? maxNewTokens : defaultTokens;
            SamplingParams params = name.equals("sampled")
                    ? SamplingParams.builder().temperature(0.8).maxNewTokens(tokens).build()
                    : SamplingParams.greedy(tokens);
            String description = switch (name) {
                case "code" -> "code completion from short prompts (greedy)";
                case "edit" -> "input-grounded editing: a function and a request for it back renamed (greedy)";
                default -> "free continuation with sampling (temperature 0.8)";
            };
            out.add(new Workload(name, description, prompts, params));
        }
        return out;
    }
}
