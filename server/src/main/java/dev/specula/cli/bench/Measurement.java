package dev.specula.cli.bench;

import dev.specula.core.decode.GenerationMetrics;

import java.util.List;

/**
 * One generation of one configuration.
 *
 * @param workload       workload name
 * @param config         configuration name
 * @param repeat         repeat index
 * @param prompt         prompt index
 * @param tokens         generated token ids (to check greedy identity)
 * @param metrics        the generation's metrics
 * @param runtimeNanos   wall time inside ONNX Runtime calls (target and draft) during the generation
 * @param allocatedBytes Java heap bytes the generating thread allocated
 * @param steps          what each decoding step drafted and kept (empty for plain decoding)
 */
public record Measurement(String workload, String config, int repeat, int prompt, int[] tokens,
                          GenerationMetrics metrics, long runtimeNanos, long allocatedBytes, List<StepLog.Step> steps) {
}
