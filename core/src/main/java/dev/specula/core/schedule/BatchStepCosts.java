package dev.specula.core.schedule;

/**
 * What one batched step's forward calls cost, for cost models of batched calls.
 *
 * @param draftRows       rows that drafted this step (0 when none did)
 * @param draftCalls      forward calls of the draft batch (the longest proposal's model calls)
 * @param draftNanos      wall time of all drafting
 * @param verifyRows      rows in the one target call
 * @param verifyPositions the widest row of that call: the most positions one row verified (k + 1)
 * @param verifyTokens    positions of all rows together
 * @param verifyNanos     wall time of the target call, acceptance and rollback
 * @param stepNanos       wall time of the whole step up to this feedback: planning, drafting, verification, and
 *                        handing out the tokens (listeners, drafters' feedback), at least draft plus verify time
 */
public record BatchStepCosts(int draftRows, int draftCalls, long draftNanos, int verifyRows, int verifyPositions,
                             int verifyTokens, long verifyNanos, long stepNanos) {

    public BatchStepCosts {
        if (draftRows < 0 || draftCalls < 0 || verifyRows < 1 || verifyPositions < 1 || verifyTokens < verifyRows
                || draftNanos < 0 || verifyNanos < 0 || stepNanos < draftNanos + verifyNanos) {
            throw new IllegalArgumentException("invalid batch step costs: " + draftRows + " draft rows, " + draftCalls
                    + " draft calls, " + draftNanos + " ns; " + verifyRows + " verify rows, " + verifyPositions
                    + " positions (widest), " + verifyTokens + " in all, " + verifyNanos + " ns; whole step " + stepNanos
                    + " ns (expected at least draft + verify)");
        }
    }
}
