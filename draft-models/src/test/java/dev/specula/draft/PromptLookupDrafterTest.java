package dev.specula.draft;

import dev.specula.core.draft.Drafter;
import dev.specula.core.draft.TokenBuffer;
import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PromptLookupDrafterTest extends DrafterContract {
    @Override
    Drafter drafter(ReferenceModel target, ReferenceModel draft) {
        return new PromptLookupDrafter(1, 3);
    }

    @Test
    void proposesWhatFollowedTheMostRecentLongestMatch() {
        PromptLookupDrafter d = new PromptLookupDrafter(1, 3);
        // ... 7 8 9 [1 2] ... 5 6 [2] 4 ... 1 2 -> the longest suffix "1 2" matched at its most recent place.
        TokenBuffer h = new TokenBuffer(new int[]{1, 2, 3, 4, 1, 2, 7, 7, 5, 6, 2, 4, 1, 2});
        assertArrayEquals(new int[]{7, 7, 5}, d.lookup(h, 3));
        assertArrayEquals(new int[]{7}, d.lookup(h, 1));
        TokenBuffer none = new TokenBuffer(new int[]{1, 2, 3});
        assertArrayEquals(new int[0], d.lookup(none, 4));
        TokenBuffer tail = new TokenBuffer(new int[]{5, 9, 5});
        assertArrayEquals(new int[]{9, 5}, d.lookup(tail, 8), "a match may run up to the end of the history");
        assertThrows(IllegalArgumentException.class, () -> new PromptLookupDrafter(0, 2));
        assertThrows(IllegalArgumentException.class, () -> new PromptLookupDrafter(3, 2));
    }
}
