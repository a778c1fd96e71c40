package dev.specula.core.acceptance;

/**
 * The outcome of verifying one proposal: the first {@code accepted} draft tokens are kept, then
 * {@code nextToken} follows (the target's correction after a rejection, or its bonus token when every draft
 * token was accepted). A step therefore always yields {@code accepted + 1} tokens.
 *
 * @param drafted   number of draft tokens verified
 * @param accepted  number kept, in {@code [0, drafted]}
 * @param nextToken the token the target chose after the kept prefix
 */
public record Verdict(int drafted, int accepted, int nextToken) {

    public Verdict {
        if (drafted < 0 || accepted < 0 || accepted > drafted) {
            throw new IllegalArgumentException("need 0 <= accepted <= drafted, got accepted " + accepted
                    + " of " + drafted);
        }
        if (nextToken < 0) {
            throw new IllegalArgumentException("nextToken must be a token id >= 0, got " + nextToken);
        }
    }

    /** True when every drafted token was accepted (and {@link #nextToken()} is the bonus token). */
    public boolean allAccepted() {
        return accepted == drafted;
    }
}
