package dev.specula.draft;

import dev.specula.core.draft.Drafter;
import dev.specula.core.testing.ReferenceModel;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CompositeDrafterTest extends DrafterContract {
    @Override
    Drafter drafter(ReferenceModel target, ReferenceModel draft) {
        return new CompositeDrafter(List.of(new PromptLookupDrafter(3, 4), new ModelDrafter(draft)));
    }

    @Test
    void rejectsDraftersThatDisagreeOnTheVocabulary() {
        ReferenceModel a = ReferenceModel.builder(10, 1).build();
        ReferenceModel b = ReferenceModel.builder(11, 1).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new CompositeDrafter(List.of(new ModelDrafter(a), new ModelDrafter(b))));
        assertTrue(e.getMessage().contains("10") && e.getMessage().contains("11"));
    }
}
