package dev.specula.cli.bench;

import dev.specula.core.schedule.Scheduling;

import java.util.ArrayList;
import java.util.List;

/**
 * One configuration under test: a drafter and a draft-length policy ("plain" is no drafter).
 *
 * @param drafter    none, model, prompt-lookup, ngram-cache or composite
 * @param scheduling the policy (ignored for plain decoding)
 * @param schedule   its short name: fixed-k, heuristic or adaptive
 */
public record BenchConfig(String drafter, Scheduling scheduling, String schedule) {

    public static final BenchConfig PLAIN = new BenchConfig("none", Scheduling.fixed(0), "plain");
    static final int[] FIXED = {1, 2, 3, 4, 6, 8};

    public String name() {
        return drafter.equals("none") ? "plain" : drafter + "/" + schedule;
    }

    public boolean isPlain() {
        return drafter.equals("none");
    }

    public boolean isFixed() {
        return schedule.startsWith("fixed-");
    }

    static BenchConfig of(String drafter, Scheduling s) {
        return new BenchConfig(drafter, s, s.name());
    }

    /** Plain decoding, then every fixed k, heuristic and adaptive for the main drafter, then the other drafters. */
    public static List<BenchConfig> forWorkload(String workload, boolean quick) {
        String main = workload.equals("edit") ? "prompt-lookup" : "model";
        List<BenchConfig> configs = new ArrayList<>();
        configs.add(PLAIN);
        for (int k : quick ? new int[]{2, 4} : FIXED) {
            configs.add(of(main, Scheduling.fixed(k)));
        }
        configs.add(of(main, Scheduling.heuristic()));
        configs.add(of(main, Scheduling.adaptive()));
        List<String> others = switch (workload) {
            case "edit" -> List.of("model", "ngram-cache", "composite");
            case "code" -> List.of("prompt-lookup", "ngram-cache", "composite");
            default -> List.of("composite");
        };
        if (!quick) {
            for (String d : others) {
                configs.add(of(d, Scheduling.adaptive()));
            }
        } else {
            configs.add(of("composite", Scheduling.adaptive()));
        }
        return configs;
    }
}
